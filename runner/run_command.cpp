#include "runner/run_command.h"

#include "results/sqlite.h"
#include "runner/coordinator.h"
#include "runner/slurm_backend.h"
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
    "                [--threads N] [--db PATH] [--runs-dir DIR] [--worker PATH] [--plain]\n"
    "       isda-run SPEC.json --backend slurm [--partition P] [--gres gpu:1] [--time HH:MM:SS] [--array-limit K]\n"
    "                [--signal-lead SECONDS] [--sbatch-arg ARG]... [--threads N] [--wait] [--poll SECONDS] ...\n"
    "       isda-run status [SPEC.json] [--db PATH]\n"
    "       isda-run sync [SPEC.json] [--db PATH]\n"
    "       isda-run cancel SPEC.json [--profile NAME] [--db PATH]\n"
    "Runs every run of the spec that is not done yet (rerun to resume), recording results in the store.\n"
    "  --profile NAME   a profile of the spec (e.g. smoke); default: the paper's settings\n"
    "  --dry-run        list the runs with their ids and states, run nothing\n"
    "  --backend NAME   local (default): workers on this machine; slurm: job arrays on a Slurm cluster\n"
    "  --gpus LIST      GPUs to use (default: all that LibTorch sees; none: CPU slots)\n"
    "  --per-gpu K      workers per GPU (default 1)\n"
    "  --cpu-slots N    workers without a GPU (default 1)\n"
    "  --threads N      CPU threads per worker (default: cores / workers; Slurm: --cpus-per-task, default 1)\n"
    "  --db PATH        results store (default results/isda.db)\n"
    "  --runs-dir DIR   run directories (default results/runs; Slurm: on storage the nodes share)\n"
    "  --worker PATH    the isda-train binary (Slurm: a path the nodes can run)\n"
    "  --plain          log lines only, no progress block redrawn on the terminal\n"
    "Slurm backend (runner/README.md, \"Slurm\"):\n"
    "  --partition P    sbatch --partition\n"
    "  --gres G         sbatch --gres for runs not on device cpu, e.g. gpu:1\n"
    "  --time T         sbatch --time, e.g. 04:00:00\n"
    "  --array-limit K  at most K tasks of each job array at once\n"
    "  --signal-lead S  SIGUSR1 S seconds before the time limit: checkpoint and requeue (default 300)\n"
    "  --sbatch-arg A   one more sbatch argument, e.g. --sbatch-arg=--mem=8G (repeatable)\n"
    "  --wait           poll until the sweep is finished (default: return after submitting)\n"
    "  --poll S         seconds between polls with --wait (default 5)\n"
    "  status           runs per state (synced with Slurm first when jobs are out)\n"
    "  sync             takes in what the Slurm jobs did: states, event logs, vanished jobs\n"
    "  cancel           scancel of the sweep's jobs; they checkpoint, and a rerun resumes them\n"
    "exit codes: 0 all done (Slurm without --wait: submitted), 1 runs failed, 2 bad usage or spec, 3 store error,\n"
    "            4 Slurm command failed, 130 stopped (rerun to resume)\n";

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
    SlurmOptions slurm;
    o.worker_binary = ISDA_TRAIN_PATH;
    if (const char* worker = std::getenv("ISDA_TRAIN")) o.worker_binary = worker;
    std::string command;  // "", status, sync or cancel
    std::string backend = "local";
    bool gpus_given = false;
    bool threads_given = false;
    for (size_t i = 0; i < args.size(); ++i) {
      auto arg = args[i];
      if (arg == "-h" || arg == "--help") {
        out << kUsage;
        return 0;
      }
      if (arg == "--dry-run") {
        o.dry_run = true;
        continue;
      }
      if (arg == "--plain") {
        o.live_display = false;
        continue;
      }
      if (arg == "--wait") {
        slurm.wait = true;
        continue;
      }
      if (arg.rfind("--", 0) == 0) {
        std::string value;
        if (const auto equals = arg.find('='); equals != std::string::npos) {  // --flag=value
          value = arg.substr(equals + 1);
          arg.erase(equals);
        } else {
          if (i + 1 >= args.size()) throw UsageError(arg + ": missing value");
          value = args[++i];
        }
        if (arg == "--profile") o.profile = value;
        else if (arg == "--db") o.db_path = value;
        else if (arg == "--runs-dir") o.runs_root = value;
        else if (arg == "--worker") o.worker_binary = value;
        else if (arg == "--per-gpu") o.per_gpu = parse_int(arg, value, 1);
        else if (arg == "--cpu-slots") o.cpu_slots = parse_int(arg, value, 1);
        else if (arg == "--threads") {
          o.threads_per_worker = parse_int(arg, value, 1);
          threads_given = true;
        } else if (arg == "--gpus") {
          o.gpus = parse_gpus(value);
          gpus_given = true;
        } else if (arg == "--backend") {
          if (value != "local" && value != "slurm") throw UsageError("--backend: expected local or slurm, got \"" + value + "\"");
          backend = value;
        } else if (arg == "--partition") slurm.partition = value;
        else if (arg == "--gres") slurm.gres = value;
        else if (arg == "--time") slurm.time = value;
        else if (arg == "--array-limit") slurm.array_limit = parse_int(arg, value, 1);
        else if (arg == "--signal-lead") slurm.signal_lead = parse_int(arg, value, 0);
        else if (arg == "--sbatch-arg") slurm.sbatch_args.push_back(value);
        else if (arg == "--poll") slurm.poll_seconds = parse_int(arg, value, 1);
        else {
          throw UsageError("unknown option " + arg + " (see --help)");
        }
        continue;
      }
      if ((arg == "status" || arg == "sync" || arg == "cancel") && o.spec_path.empty() && command.empty()) {
        command = arg;
        continue;
      }
      if (!o.spec_path.empty()) throw UsageError("unexpected argument \"" + arg + "\" (one spec at a time)");
      o.spec_path = arg;
    }
    if (threads_given) slurm.cpus_per_task = o.threads_per_worker;
    if (command == "status") {
      const auto scheduler = make_slurm_commands();
      sync_before_status(o.db_path, *scheduler, err);
      return print_status(o.db_path, o.spec_path, out);
    }
    if (command == "sync") {
      const auto scheduler = make_slurm_commands();
      return sync_slurm(o.db_path, o.spec_path, *scheduler, out, err);
    }
    if (o.spec_path.empty()) throw UsageError(command.empty() ? "no spec given (see --help)" : command + ": no spec given");
    if (command == "cancel") {
      const auto scheduler = make_slurm_commands();
      return cancel_slurm(o, *scheduler, out, err);
    }
    if (backend == "slurm" && !o.dry_run) {
      const auto scheduler = make_slurm_commands();
      return run_slurm_sweep(o, slurm, *scheduler, g_stop_requests, out, err);
    }
    if (!o.dry_run) {
      if (const auto out_on_slurm = runs_out_on_slurm(o); out_on_slurm > 0) {
        throw UsageError(fmt::format("{} runs of this sweep are in Slurm jobs; follow them with --backend slurm (or "
                                     "isda-run cancel {} first)",
                                     out_on_slurm, o.spec_path));
      }
    }
    if (!gpus_given) o.gpus = parse_gpus("all");
    return run_sweep(o, g_stop_requests, out, err);
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const SpecError& e) {
    return fail(2, e.what());
  } catch (const results::StoreError& e) {
    return fail(3, e.what());
  } catch (const SlurmError& e) {
    return fail(4, e.what());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return fail(1, message.substr(0, message.find('\n')));
  }
}

}  // namespace isda::runner
