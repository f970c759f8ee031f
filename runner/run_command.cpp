#include "runner/run_command.h"

#include "common/exit_codes.h"
#include "common/options.h"
#include "results/sqlite.h"
#include "runner/coordinator.h"
#include "runner/gpu_use.h"
#include "runner/slurm_backend.h"
#include "runner/spec.h"

#include <fmt/format.h>

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

// What the command line sets.
struct Invocation {
  SweepOptions sweep;
  SlurmOptions slurm;
  std::string command;  // "", status, sync or cancel
  std::string backend;
  bool gpus_given = false;
};

std::vector<int> parse_gpus(const std::string& text) {
  std::vector<int> gpus;
  if (text == "none") return gpus;
  if (text == "all") {
    for (int i = 0; i < visible_gpu_count(); ++i) gpus.push_back(i);
    return gpus;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) gpus.push_back(static_cast<int>(parse_integer(item, 0)));
  return gpus;
}

bool is_command(const std::string& word) { return word == "status" || word == "sync" || word == "cancel"; }

Invocation invocation_from(const Arguments& args) {
  Invocation o;
  auto positional = args.positional();
  if (!positional.empty() && is_command(positional[0])) {
    o.command = positional[0];
    positional.erase(positional.begin());
  }
  if (positional.size() > 1) throw UsageError("unexpected argument \"" + positional[1] + "\" (one spec at a time)");
  if (!positional.empty()) o.sweep.spec_path = positional[0];
  o.sweep.profile = args.text("--profile");
  o.sweep.dry_run = args.has("--dry-run");
  o.backend = args.text("--backend");
  o.gpus_given = args.has("--gpus");
  if (o.gpus_given) o.sweep.gpus = args.convert("--gpus", parse_gpus);
  o.sweep.per_gpu = static_cast<int>(args.integer("--per-gpu"));
  o.sweep.cpu_slots = static_cast<int>(args.integer("--cpu-slots"));
  if (args.has("--threads")) {
    o.sweep.threads_per_worker = static_cast<int>(args.integer("--threads"));
    o.slurm.cpus_per_task = o.sweep.threads_per_worker;
  }
  o.sweep.db_path = args.text("--db");
  o.sweep.runs_root = args.text("--runs-dir");
  o.sweep.worker_binary = args.text("--worker");
  o.sweep.live_display = !args.has("--plain");
  o.slurm.partition = args.text("--partition");
  o.slurm.gres = args.text("--gres");
  o.slurm.time = args.text("--time");
  if (args.has("--array-limit")) o.slurm.array_limit = static_cast<int>(args.integer("--array-limit"));
  o.slurm.signal_lead = static_cast<int>(args.integer("--signal-lead"));
  o.slurm.sbatch_args = args.values("--sbatch-arg");
  o.slurm.wait = args.has("--wait");
  o.slurm.poll_seconds = static_cast<double>(args.integer("--poll"));
  return o;
}

}  // namespace

const Command& run_command_line() {
  static const Command command = [] {
    const SweepOptions sweep;
    const SlurmOptions slurm;
    const auto number = [](auto value) { return fmt::format("{}", value); };
    const std::string slurm_section = "Slurm backend (runner/README.md, \"Slurm\")";
    Command c;
    c.name = "isda-run";
    c.usage = {
        "SPEC.json [--profile NAME] [--dry-run] [--gpus all|0,1|none] [--per-gpu K] [--cpu-slots N]\n"
        "                [--threads N] [--db PATH] [--runs-dir DIR] [--worker PATH] [--plain]",
        "SPEC.json --backend slurm [--partition P] [--gres gpu:1] [--time HH:MM:SS] [--array-limit K]\n"
        "                [--signal-lead SECONDS] [--sbatch-arg ARG]... [--threads N] [--wait] [--poll SECONDS] ...",
        "status [SPEC.json] [--db PATH]",
        "sync [SPEC.json] [--db PATH]",
        "cancel SPEC.json [--profile NAME] [--db PATH]",
    };
    c.description =
        "Runs every run of the spec that is not done yet (rerun to resume), recording results in the store.\n"
        "Options take their value as the next argument or after '=' (--db=PATH).\n";
    c.options = {
        value_option("--profile", "NAME", "a profile of the spec (e.g. smoke)").default_described("the paper's settings"),
        switch_option("--dry-run", "list the runs with their ids and states, run nothing"),
        value_option("--backend", "NAME", "local: workers on this machine; slurm: job arrays on a Slurm cluster")
            .one_of({"local", "slurm"})
            .default_to("local"),
        value_option("--gpus", "LIST", "GPUs to use: all, a list (0,1), or none (CPU slots)")
            .default_described("all that the driver shows"),
        value_option("--per-gpu", "K", "workers per GPU").integer(1).default_to(number(sweep.per_gpu)),
        value_option("--cpu-slots", "N", "workers without a GPU").integer(1).default_to(number(sweep.cpu_slots)),
        value_option("--threads", "N", "CPU threads per worker (Slurm: --cpus-per-task)")
            .integer(1)
            .default_described("cores / workers; Slurm: " + number(slurm.cpus_per_task)),
        value_option("--db", "PATH", "results store").default_to(sweep.db_path),
        value_option("--runs-dir", "DIR", "run directories (Slurm: on storage the nodes share)").default_to(sweep.runs_root),
        value_option("--worker", "PATH", "the isda-train binary (Slurm: a path the nodes can run)")
            .default_to(ISDA_TRAIN_PATH)
            .from_env("ISDA_TRAIN"),
        switch_option("--plain", "log lines only, no progress block redrawn on the terminal"),
        value_option("--partition", "P", "sbatch --partition").in_section(slurm_section),
        value_option("--gres", "G", "sbatch --gres for runs not on device cpu, e.g. gpu:1").in_section(slurm_section),
        value_option("--time", "T", "sbatch --time, e.g. 04:00:00").in_section(slurm_section),
        value_option("--array-limit", "K", "at most K tasks of each job array at once").integer(1).in_section(slurm_section),
        value_option("--signal-lead", "S", "SIGUSR1 S seconds before the time limit: checkpoint and requeue")
            .integer(0)
            .default_to(number(slurm.signal_lead))
            .in_section(slurm_section),
        value_option("--sbatch-arg", "A", "one more sbatch argument, e.g. --sbatch-arg=--mem=8G")
            .repeated()
            .in_section(slurm_section),
        switch_option("--wait", "poll until the sweep is finished (default: return after submitting)").in_section(slurm_section),
        value_option("--poll", "S", "seconds between polls with --wait")
            .integer(1)
            .default_to(number(slurm.poll_seconds))
            .in_section(slurm_section),
    };
    c.notes =
        "Commands:\n"
        "  status           runs per state (synced with Slurm first when jobs are out)\n"
        "  sync             takes in what the Slurm jobs did: states, event logs, vanished jobs\n"
        "  cancel           scancel of the sweep's jobs; they checkpoint, and a rerun resumes them\n";
    c.exit_codes = {{kExitOk, "all done (Slurm without --wait: submitted)"},
                    {kExitFailed, "runs not all done"},
                    {kExitUsage, "bad usage or spec"},
                    {kExitStore, "results store error"},
                    {kExitScheduler, "a Slurm command failed"},
                    {kExitSignal + SIGINT, "stopped (rerun to resume)"}};
    return c;
  }();
  return command;
}

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
    const auto arguments = parse_arguments(run_command_line(), args);
    if (arguments.help()) {
      out << help_text(run_command_line());
      return 0;
    }
    auto parsed = invocation_from(arguments);
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
