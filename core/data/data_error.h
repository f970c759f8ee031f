#pragma once
// The error every data set reader throws; free of LibTorch so that mains can catch it cheaply.

#include <stdexcept>

namespace isda::data {

// Any missing or malformed data file. what() is one line that names the file and what is wrong.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace isda::data
