#include "support/subprocess.h"

#include "common/durable_file.h"
#include "common/process.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace isda::testing {
pid_t start_process(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                    bool own_process_group) {
  common::ChildSpec spec;
  spec.program = argv.at(0);
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.stdout_file = out_path;
  spec.stderr_file = err_path;
  spec.own_process_group = own_process_group;
  try {
    return common::spawn(spec);
  } catch (const std::exception&) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
}

int wait_process(pid_t pid) { return common::wait_exit(pid); }

ProcessResult run_process(const std::vector<std::string>& argv) {
  char out_path[] = "/tmp/isda-out-XXXXXX";
  char err_path[] = "/tmp/isda-err-XXXXXX";
  close(mkstemp(out_path));
  close(mkstemp(err_path));
  ProcessResult result;
  result.exit_code = wait_process(start_process(argv, out_path, err_path));
  result.out = common::read_file(out_path);
  result.err = common::read_file(err_path);
  std::remove(out_path);
  std::remove(err_path);
  return result;
}

}  // namespace isda::testing
