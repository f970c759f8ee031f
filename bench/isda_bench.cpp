// isda-bench: side-by-side benchmarks of the suite. All logic is in the bench sources.
#include "head_bench.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "head") return isda::bench::run_head_bench(args, std::cout, std::cerr);
  if (what == "head-memory") return isda::bench::run_head_memory_probe(args, std::cout, std::cerr);
  std::cerr << "usage: isda-bench head [--classes C] [--dim A] [--batch N] [--steps S] [--device cpu|cuda]\n";
  return what.empty() || what == "--help" ? 0 : 2;
}
