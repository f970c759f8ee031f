// isda-bench: side-by-side benchmarks of the suite. All logic is in the bench sources (isda_bench.h).
#include "isda_bench.h"

#include <iostream>

int main(int argc, char** argv) {
  return isda::bench::run_bench(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
