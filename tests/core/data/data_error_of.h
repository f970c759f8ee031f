#pragma once
// For the data tests: the one-line message of the DataError an action throws.

#include "data/data_error.h"

#include <gtest/gtest.h>

#include <string>

namespace isda::data {

// The message of the DataError `action` throws; a test failure if it throws none or spans lines.
template <class Action>
std::string data_error_of(Action&& action) {
  try {
    action();
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  ADD_FAILURE() << "expected a DataError";
  return "";
}

}  // namespace isda::data
