#include "runner/run_command.h"

#include "results/sqlite.h"
#include "runner/coordinator.h"
#include "runner/spec.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <atomic>
#include <csignal>
#include <ostream>
#include <sstream>

#ifndef ISDA_TRAIN_PATH
#define ISDA_TRAIN_PATH "isda-train"
#endif

namespace isda::runner {
namespace {

std::atomic<int> g_stop_requests{0};

extern "C" void count_stop_request(int) { g_stop_requests.fetch_add(1); }

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kUsage =
    "usage: isda-run SPEC.json [--profile NAME] [--dry-run] [--gpus all|0,1] [--per-gpu K] [--cpu-slots N]\n"
    "                [--threads N] [--db PATH] [--runs-dir DIR] [--worker PATH]\n"
    "       isda-run status [SPEC.json] [--db PATH]\n"
    "Runs every run of the spec that is not done yet (rerun to resume), recording results in the store.\n"
    "  --profile NAME   a profile of the spec (e.g. smoke); default: the paper's settings\n"
    "  --dry-run        list the runs with their ids and states, run nothing\n"
    "  --gpus LIST      GPUs to use (default: all that LibTorch sees; none: CPU slots)\n"
    "  --per-gpu K      workers per GPU (default 1)\n"
    "  --cpu-slots N    workers without a GPU (default 1)\n"
    "  --threads N      CPU threads per worker (default: cores / workers)\n"
    "  --db PATH        results store (default results/isda.db)\n"
    "  --runs-dir DIR   run directories (default results/runs)\n"
    "  --worker PATH    the isda-train binary\n"
    "exit codes: 0 all done, 1 runs failed, 2 bad usage or spec, 3 store error, 130 stopped (rerun to resume)\n";

int parse_int(const std::string& flag, const std::string& text, int minimum) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= minimum) return value;
  } catch (const std::logic_error&) {
  }
  throw UsageError(fmt::format("{}: expected an integer >= {}, got \"{}\"", flag, minimum, text));
}

std::vector<int> parse_gpus(const std::string& text) {
  std::vector<int> gpus;
  if (text == "none") return gpus;
  if (text == "all") {
    for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); ++i) gpus.push_back(i);
    return gpus;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) gpus.push_back(parse_int("--gpus", item, 0));
  return gpus;
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = count_stop_request;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto fail = [&err](int code, const std::string& message) {
    err << "isda-run: error: " << message << '\n';
    return code;
  };
  try {
    SweepOptions o;
    o.worker_binary = ISDA_TRAIN_PATH;
    if (const char* worker = std::getenv("ISDA_TRAIN")) o.worker_binary = worker;
    bool status = false;
    bool gpus_given = false;
    for (size_t i = 0; i < args.size(); ++i) {
      const auto& arg = args[i];
      if (arg == "-h" || arg == "--help") {
        out << kUsage;
        return 0;
      }
      if (arg == "--dry-run") {
        o.dry_run = true;
        continue;
      }
      if (arg.rfind("--", 0) == 0) {
        if (i + 1 >= args.size()) throw UsageError(arg + ": missing value");
        const auto& value = args[++i];
        if (arg == "--profile") o.profile = value;
        else if (arg == "--db") o.db_path = value;
        else if (arg == "--runs-dir") o.runs_root = value;
        else if (arg == "--worker") o.worker_binary = value;
        else if (arg == "--per-gpu") o.per_gpu = parse_int(arg, value, 1);
        else if (arg == "--cpu-slots") o.cpu_slots = parse_int(arg, value, 1);
        else if (arg == "--threads") o.threads_per_worker = parse_int(arg, value, 1);
        else if (arg == "--gpus") {
          o.gpus = parse_gpus(value);
          gpus_given = true;
        } else {
          throw UsageError("unknown option " + arg + " (see --help)");
        }
        continue;
      }
      if (arg == "status" && o.spec_path.empty() && !status) {
        status = true;
        continue;
      }
      if (!o.spec_path.empty()) throw UsageError("unexpected argument \"" + arg + "\" (one spec at a time)");
      o.spec_path = arg;
    }
    if (status) return print_status(o.db_path, o.spec_path, out);
    if (o.spec_path.empty()) throw UsageError("no spec given (see --help)");
    if (!gpus_given) o.gpus = parse_gpus("all");
    return run_sweep(o, g_stop_requests, out, err);
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const SpecError& e) {
    return fail(2, e.what());
  } catch (const results::StoreError& e) {
    return fail(3, e.what());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return fail(1, message.substr(0, message.find('\n')));
  }
}

}  // namespace isda::runner
