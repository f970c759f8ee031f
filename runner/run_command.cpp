#include "runner/run_command.h"

#include "common/exit_codes.h"
#include "results/sqlite.h"
#include "runner/coordinator.h"
#include "runner/gpu_use.h"
#include "runner/slurm_backend.h"
#include "runner/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <ostream>
#include <sstream>

#ifndef ISDA_TRAIN_PATH
#define ISDA_TRAIN_PATH "isda-train"
#endif

namespace isda::runner {
namespace {

std::atomic<int> g_stop_requests{0};

extern "C" void count_stop_request(int) { g_stop_requests.fetch_add(1); }


// What the command line sets.
struct Options {
  SweepOptions sweep;
  SlurmOptions slurm;
  std::string command;  // "", status, sync or cancel
  std::string backend = "local";
  bool gpus_given = false;
  bool threads_given = false;
  bool help = false;
};

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
    for (int i = 0; i < visible_gpu_count(); ++i) gpus.push_back(i);
    return gpus;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) gpus.push_back(parse_int("--gpus", item, 0));
  return gpus;
}

enum class Section { common, slurm };

// The one table of options, from which parsing and --help come. A switch has no value_name and is
// set with an empty value; `set` throws UsageError for a bad value.
struct OptionSpec {
  const char* flag;
  const char* value_name;  // nullptr for a switch
  Section section;
  const char* help;
  void (*set)(Options& o, const std::string& flag, const std::string& value);
};

const OptionSpec kOptions[] = {
    {"--profile", "NAME", Section::common, "a profile of the spec (e.g. smoke); default: the paper's settings",
     [](Options& o, const std::string&, const std::string& v) { o.sweep.profile = v; }},
    {"--dry-run", nullptr, Section::common, "list the runs with their ids and states, run nothing",
     [](Options& o, const std::string&, const std::string&) { o.sweep.dry_run = true; }},
    {"--backend", "NAME", Section::common, "local (default): workers on this machine; slurm: job arrays on a Slurm cluster",
     [](Options& o, const std::string& f, const std::string& v) {
       if (v != "local" && v != "slurm") throw UsageError(f + ": expected local or slurm, got \"" + v + "\"");
       o.backend = v;
     }},
    {"--gpus", "LIST", Section::common, "GPUs to use: all (default: all that LibTorch sees), 0,1, or none (CPU slots)",
     [](Options& o, const std::string&, const std::string& v) {
       o.sweep.gpus = parse_gpus(v);
       o.gpus_given = true;
     }},
    {"--per-gpu", "K", Section::common, "workers per GPU (default 1)",
     [](Options& o, const std::string& f, const std::string& v) { o.sweep.per_gpu = parse_int(f, v, 1); }},
    {"--cpu-slots", "N", Section::common, "workers without a GPU (default 1)",
     [](Options& o, const std::string& f, const std::string& v) { o.sweep.cpu_slots = parse_int(f, v, 1); }},
    {"--threads", "N", Section::common, "CPU threads per worker (default: cores / workers; Slurm: --cpus-per-task, default 1)",
     [](Options& o, const std::string& f, const std::string& v) {
       o.sweep.threads_per_worker = parse_int(f, v, 1);
       o.threads_given = true;
     }},
    {"--db", "PATH", Section::common, "results store (default results/isda.db)",
     [](Options& o, const std::string&, const std::string& v) { o.sweep.db_path = v; }},
    {"--runs-dir", "DIR", Section::common, "run directories (default results/runs; Slurm: on storage the nodes share)",
     [](Options& o, const std::string&, const std::string& v) { o.sweep.runs_root = v; }},
    {"--worker", "PATH", Section::common, "the isda-train binary (default: this build's, or $ISDA_TRAIN; Slurm: a path the nodes can run)",
     [](Options& o, const std::string&, const std::string& v) { o.sweep.worker_binary = v; }},
    {"--plain", nullptr, Section::common, "log lines only, no progress block redrawn on the terminal",
     [](Options& o, const std::string&, const std::string&) { o.sweep.live_display = false; }},
    {"--help", nullptr, Section::common, "this help (also -h)",
     [](Options& o, const std::string&, const std::string&) { o.help = true; }},
    {"--partition", "P", Section::slurm, "sbatch --partition",
     [](Options& o, const std::string&, const std::string& v) { o.slurm.partition = v; }},
    {"--gres", "G", Section::slurm, "sbatch --gres for runs not on device cpu, e.g. gpu:1",
     [](Options& o, const std::string&, const std::string& v) { o.slurm.gres = v; }},
    {"--time", "T", Section::slurm, "sbatch --time, e.g. 04:00:00",
     [](Options& o, const std::string&, const std::string& v) { o.slurm.time = v; }},
    {"--array-limit", "K", Section::slurm, "at most K tasks of each job array at once",
     [](Options& o, const std::string& f, const std::string& v) { o.slurm.array_limit = parse_int(f, v, 1); }},
    {"--signal-lead", "S", Section::slurm, "SIGUSR1 S seconds before the time limit: checkpoint and requeue (default 300)",
     [](Options& o, const std::string& f, const std::string& v) { o.slurm.signal_lead = parse_int(f, v, 0); }},
    {"--sbatch-arg", "A", Section::slurm, "one more sbatch argument, e.g. --sbatch-arg=--mem=8G (repeatable)",
     [](Options& o, const std::string&, const std::string& v) { o.slurm.sbatch_args.push_back(v); }},
    {"--wait", nullptr, Section::slurm, "poll until the sweep is finished (default: return after submitting)",
     [](Options& o, const std::string&, const std::string&) { o.slurm.wait = true; }},
    {"--poll", "S", Section::slurm, "seconds between polls with --wait (default 5)",
     [](Options& o, const std::string& f, const std::string& v) { o.slurm.poll_seconds = parse_int(f, v, 1); }},
};

std::string usage() {
  std::string text =
      "usage: isda-run SPEC.json [--profile NAME] [--dry-run] [--gpus all|0,1|none] [--per-gpu K] [--cpu-slots N]\n"
      "                [--threads N] [--db PATH] [--runs-dir DIR] [--worker PATH] [--plain]\n"
      "       isda-run SPEC.json --backend slurm [--partition P] [--gres gpu:1] [--time HH:MM:SS] [--array-limit K]\n"
      "                [--signal-lead SECONDS] [--sbatch-arg ARG]... [--threads N] [--wait] [--poll SECONDS] ...\n"
      "       isda-run status [SPEC.json] [--db PATH]\n"
      "       isda-run sync [SPEC.json] [--db PATH]\n"
      "       isda-run cancel SPEC.json [--profile NAME] [--db PATH]\n"
      "Runs every run of the spec that is not done yet (rerun to resume), recording results in the store.\n"
      "Options take their value as the next argument or after '=' (--db=PATH).\n";
  const auto section = [&text](Section which) {
    for (const auto& option : kOptions) {
      if (option.section != which) continue;
      const auto flag = option.value_name ? fmt::format("{} {}", option.flag, option.value_name) : std::string(option.flag);
      text += fmt::format("  {:<16} {}\n", flag, option.help);
    }
  };
  section(Section::common);
  text += "Slurm backend (runner/README.md, \"Slurm\"):\n";
  section(Section::slurm);
  text +=
      "Commands:\n"
      "  status           runs per state (synced with Slurm first when jobs are out)\n"
      "  sync             takes in what the Slurm jobs did: states, event logs, vanished jobs\n"
      "  cancel           scancel of the sweep's jobs; they checkpoint, and a rerun resumes them\n";
  text += exit_codes_help({{kExitOk, "all done (Slurm without --wait: submitted)"},
                           {kExitFailed, "runs not all done"},
                           {kExitUsage, "bad usage or spec"},
                           {kExitStore, "results store error"},
                           {kExitScheduler, "a Slurm command failed"},
                           {130, "stopped (rerun to resume)"}});
  return text;
}

// Reads the arguments in order; stops at --help. Throws UsageError.
Options parse_options(const std::vector<std::string>& args) {
  Options o;
  o.sweep.worker_binary = ISDA_TRAIN_PATH;
  if (const char* worker = std::getenv("ISDA_TRAIN")) o.sweep.worker_binary = worker;
  for (size_t i = 0; i < args.size() && !o.help; ++i) {
    std::string flag = args[i];
    if (flag.size() > 1 && flag[0] == '-') {
      std::optional<std::string> inline_value;
      if (const auto equals = flag.find('='); flag.rfind("--", 0) == 0 && equals != std::string::npos) {
        inline_value = flag.substr(equals + 1);
        flag.resize(equals);
      }
      if (flag == "-h") flag = "--help";
      const auto* option = std::find_if(std::begin(kOptions), std::end(kOptions),
                                        [&](const OptionSpec& spec) { return flag == spec.flag; });
      if (option == std::end(kOptions)) throw UsageError("unknown option " + flag + " (see --help)");
      if (option->value_name == nullptr) {
        if (inline_value) throw UsageError(flag + " takes no value");
        option->set(o, flag, "");
        continue;
      }
      if (!inline_value && i + 1 >= args.size()) throw UsageError(flag + ": missing value " + option->value_name);
      option->set(o, flag, inline_value ? *inline_value : args[++i]);
      continue;
    }
    if ((flag == "status" || flag == "sync" || flag == "cancel") && o.sweep.spec_path.empty() && o.command.empty()) {
      o.command = flag;
      continue;
    }
    if (!o.sweep.spec_path.empty()) throw UsageError("unexpected argument \"" + flag + "\" (one spec at a time)");
    o.sweep.spec_path = flag;
  }
  if (o.threads_given) o.slurm.cpus_per_task = o.sweep.threads_per_worker;
  return o;
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
    auto parsed = parse_options(args);
    if (parsed.help) {
      out << usage();
      return 0;
    }
    auto& o = parsed.sweep;
    auto& slurm = parsed.slurm;
    const auto& command = parsed.command;
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
    if (parsed.backend == "slurm" && !o.dry_run) {
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
    if (!parsed.gpus_given) o.gpus = parse_gpus("all");
    if (parsed.backend == "slurm") o.slurm_array_limit = slurm.array_limit;  // --dry-run: its slots
    return run_sweep(o, g_stop_requests, out, err);
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const SpecError& e) {
    return fail(kExitUsage, e.what());
  } catch (const results::StoreError& e) {
    return fail(kExitStore, e.what());
  } catch (const SlurmError& e) {
    return fail(kExitScheduler, e.what());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return fail(kExitFailed, message.substr(0, message.find('\n')));
  }
}

}  // namespace isda::runner
