#include "command/train_command.h"

#include "common/exit_codes.h"
#include "common/options.h"
#include "data/data_error.h"
#include "distributed/launcher.h"
#include "distributed/world.h"
#include "gan/gan_trainer.h"
#include "gan/generated_images.h"
#include "models/registry.h"
#include "train/estimator_memory.h"
#include "train/network_export.h"
#include "train/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <unistd.h>

namespace isda::command {
namespace {

std::atomic<int> g_stop_signal{0};

// Set by isda-train's launcher in its ranks' environment: the launcher logs their failures.
constexpr char kLaunchedVariable[] = "ISDA_TRAIN_LAUNCHER";

extern "C" void record_stop_signal(int signal_number) { g_stop_signal.store(signal_number); }

struct Invocation {
  nlohmann::json overrides = nlohmann::json::object();
  std::string config_file;
  std::string run_dir;
  bool list_models = false;
  bool dump_config = false;
  std::string export_run_dir;  // --export RUN_DIR OUT.pt: export instead of training
  std::string export_path;
};

// "--lambda-schedule" for the config key lambda_schedule, and back.
std::string flag_of(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return "--" + key;
}
std::string key_of(const std::string& flag) {
  auto key = flag.substr(2);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

// Converts a flag's text to the JSON type of the key's default value; throws UsageError without
// the flag (Arguments::convert adds it).
nlohmann::json parse_value(const std::string& text, const nlohmann::json& like) {
  const auto fail = [&](const char* expected) { return UsageError(fmt::format("expected {}, got \"{}\"", expected, text)); };
  try {
    size_t used = 0;
    if (like.is_boolean()) {
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      throw fail("true or false");
    }
    if (like.is_number_unsigned()) {
      if (text.empty() || text[0] == '-') throw fail("a non-negative integer");
      const auto value = std::stoull(text, &used);
      if (used != text.size()) throw fail("a non-negative integer");
      return value;
    }
    if (like.is_number_integer()) {
      const auto value = std::stoll(text, &used);
      if (used != text.size()) throw fail("an integer");
      return value;
    }
    if (like.is_number()) {
      const auto value = std::stod(text, &used);
      if (used != text.size()) throw fail("a number");
      return value;
    }
    if (like.is_array()) {
      auto values = nlohmann::json::array();
      size_t start = 0;
      while (start < text.size()) {
        const auto end = text.find(',', start);
        const auto item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const auto value = std::stoll(item, &used);
        if (used != item.size()) throw fail("comma-separated integers");
        values.push_back(value);
        if (end == std::string::npos) break;
        start = end + 1;
      }
      return values;
    }
  } catch (const std::logic_error&) {  // std::invalid_argument, std::out_of_range from sto*
    if (like.is_boolean()) throw fail("true or false");
    throw fail(like.is_array() ? "comma-separated integers" : like.is_number_integer() ? "an integer" : "a number");
  }
  return text;
}

// What the help calls a key's value, by the type of its default.
const char* value_name_of(const nlohmann::json& like) {
  if (like.is_boolean()) return "true|false";
  if (like.is_number_integer()) return "N";
  if (like.is_number()) return "X";
  if (like.is_array()) return "N,N,...";
  return "TEXT";
}

const char* const kKeysSection = "run config keys (as in --config FILE.json, with - for _; a later flag wins)";

Invocation invocation_from(const Arguments& args) {
  Invocation inv;
  if (args.has("--export")) {  // --export RUN_DIR OUT.pt, and nothing else
    if (args.positional().empty()) throw UsageError("--export: missing OUT.pt (usage: --export RUN_DIR OUT.pt)");
    if (args.positional().size() > 1) {
      throw UsageError(fmt::format("--export: unexpected argument \"{}\" after OUT.pt", args.positional()[1]));
    }
    for (const auto& option : train_command_line().options) {
      if (option.flag != "--export" && args.has(option.flag)) {
        throw UsageError("--export: takes no other option (got " + option.flag + ")");
      }
    }
    inv.export_run_dir = args.text("--export");
    inv.export_path = args.positional()[0];
    return inv;
  }
  if (!args.positional().empty()) {
    throw UsageError(fmt::format("unexpected argument \"{}\" (see --help)", args.positional()[0]));
  }
  const auto defaults = train::key_defaults();
  inv.config_file = args.text("--config");
  inv.run_dir = args.text("--run-dir");
  inv.dump_config = args.has("--dump-config");
  inv.list_models = args.has("--list-models");
  for (const auto& option : train_command_line().options) {
    if (option.section != kKeysSection || !args.has(option.flag)) continue;
    const auto key = key_of(option.flag);
    inv.overrides[key] = args.convert(option.flag, [&](const std::string& text) { return parse_value(text, defaults.at(key)); });
  }
  return inv;
}

}  // namespace

const Command& train_command_line() {
  static const Command command = [] {
    const auto defaults = train::key_defaults();
    Command c;
    c.name = "isda-train";
    c.usage = {"[--config FILE.json] [--KEY VALUE ...]", "--export RUN_DIR OUT.pt"};
    c.description =
        "Trains one configuration and prints one line per epoch; flags override the config file. With --export, "
        "writes a classifier run's trained network as a PyTorch state dict (torch.load reads it) and OUT.json "
        "describing it.\n";
    c.options = {
        value_option("--config", "FILE", "run config (JSON object with the keys below)"),
        value_option("--run-dir", "DIR", "keep config, events.jsonl, checkpoints and result in DIR; rerun to resume"),
        switch_option("--dump-config", "print the resolved config as JSON and exit"),
        switch_option("--list-models", "print the known networks and exit"),
        value_option("--export", "RUN_DIR",
                     "write the run's network to OUT.pt (the next argument) as a PyTorch state dict, with the "
                     "reference names (the authors' CIFAR ResNets, torchvision's ImageNet ResNets) where they exist, "
                     "and OUT.json describing it; then exit"),
    };
    for (const auto& key : train::config_keys()) {
      const auto& like = defaults.at(key.key);
      // A later flag wins, as flags win over the config file: a wrapper appends its overrides.
      auto option = value_option(flag_of(key.key), value_name_of(like), key.help).later_wins().in_section(kKeysSection);
      const auto shown = like.is_string() ? like.get<std::string>() : like.dump();
      if (!shown.empty()) option.default_described(shown);  // an empty one: the key's help says what it means
      if (key.key == "ranks") option.alias("--nproc-per-node");  // torchrun's spelling, for one node
      c.options.push_back(option);
    }
    c.notes =
        "\ndata parallel: with --ranks N (N > 1) isda-train starts N ranks here, one per GPU (or N CPU processes);\n"
        "under srun (one task per rank) or with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set,\n"
        "each process is one rank. Rank 0 writes the run directory.\n\n";
    c.exit_codes = {{kExitOk, "done"},
                    {kExitFailed, "training failed (a rank that hung included)"},
                    {kExitUsage, "bad usage or config"},
                    {kExitData, "missing or malformed data"},
                    {kExitCheckpoint, "unusable checkpoint (--export: none yet, corrupt or of another config)"},
                    {kExitBusy, "run directory in use"},
                    {kExitEnvironment, "environment fault (disk full, I/O error, device lost; rerun once fixed)"},
                    {kExitSignal, "stopped by signal N (SIGINT, SIGTERM, SIGUSR1) after checkpointing"}};
    return c;
  }();
  return command;
}

namespace {

// isda-train --export RUN_DIR OUT.pt (train/network_export.h). The run directory is read, not
// claimed, so nothing is logged there.
int export_network(const Invocation& inv, std::ostream& out, std::ostream& err) {
  try {
    const auto summary = train::export_run(inv.export_run_dir, inv.export_path);
    out << fmt::format("exported: {} ({} names, {} tensors, epoch {}{}) to {} and {}\n", summary.model,
                       models::export_naming_name(summary.naming), summary.tensors, summary.epoch,
                       summary.finished ? ", finished" : ", not finished", summary.state_dict_path,
                       summary.description_path);
    return kExitOk;
  } catch (const std::exception& e) {
    const auto failure = train::failure_of(e);
    err << "isda-train: error: " << failure.reason << '\n';
    return failure.exit_code;
  }
}

train::TrainConfig resolve(const Invocation& inv) {
  nlohmann::json merged = nlohmann::json::object();
  std::string source = "command line";
  if (!inv.config_file.empty()) {
    merged = train::load_config_file(inv.config_file);
    source = inv.config_file;
  }
  for (const auto& item : inv.overrides.items()) merged[item.key()] = item.value();
  return train::config_from_json(merged, source);
}

// isda-train with ranks > 1 outside a distributed environment: this process starts the ranks
// (this binary again, with the same arguments) and speaks for them. A rank's failure is printed and
// logged in the run directory once, naming the rank (fault `hang` for a rank that stopped
// answering); a rank killed by a signal from outside is reported like a killed worker (exit
// 128 + N, no record: the coordinator resumes it); ranks stopped by a signal (to the launcher or to
// any rank) checkpoint and exit 128 + N with their `interrupted` record.
int launch_ranks(const std::vector<std::string>& args, const train::TrainConfig& config, train::RunDirectory* run_dir,
                 std::ostream& err) {
  distributed::LaunchOptions launch;
  char self[4096] = {};
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  launch.binary = length > 0 ? std::string(self, static_cast<size_t>(length)) : std::string("isda-train");
  launch.args = args;
  launch.ranks = static_cast<int>(config.ranks);
  launch.run_dir_lock_descriptor = run_dir ? run_dir->lock_descriptor() : -1;
  launch.stop_signal = &g_stop_signal;
  ::setenv(kLaunchedVariable, std::to_string(::getpid()).c_str(), 1);
  const auto result = distributed::launch_local_ranks(launch, err);
  if (result.failed_rank < 0) return result.exit_code;
  err << "isda-train: error: " << result.reason << '\n';
  if (run_dir && !result.killed) {
    const auto fault = result.hung                              ? events::Fault::hang
                       : result.exit_code == kExitEnvironment ? events::Fault::environment
                                                              : events::Fault::run;
    train::log_failure(*run_dir, {result.exit_code, fault, result.reason});
  }
  return result.exit_code;
}

}  // namespace

int run_train_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // A rank its launcher started says why it failed in its failure file, and the launcher reports it
  // once naming the rank (distributed/launcher.h); any other process prints it.
  const auto fail = [&err](int code, const std::string& message, events::Fault fault = events::Fault::run) {
    const bool secondary = message.find(distributed::kAnotherRankFailed) != std::string::npos;
    if (!distributed::write_rank_failure({code, events::to_string(fault), message, secondary})) {
      err << "isda-train: error: " << message << '\n';
    }
    return code;
  };
  Invocation inv;
  try {
    const auto arguments = parse_arguments(train_command_line(), args);
    if (arguments.help()) {
      out << help_text(train_command_line());
      return kExitOk;
    }
    inv = invocation_from(arguments);
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  }
  if (!inv.export_run_dir.empty()) return export_network(inv, out, err);
  if (inv.list_models) {
    // One line per network: name, parameters at its default classes (10 CIFAR, 1000 ImageNet), A.
    for (const auto& info : models::describe_models()) {
      out << fmt::format("{:<22} {:>7.2f}M  feature_dim {}\n", info.name,
                         static_cast<double>(info.parameter_count) / 1e6, info.feature_dim);
    }
    return kExitOk;
  }
  // The run directory first: from here on every failure is recorded there, for the coordinator.
  // Of a data-parallel run's ranks only rank 0 opens it (adopting its launcher's claim).
  std::optional<train::RunDirectory> run_dir;
  bool training = false;  // train() logs its own failures
  const bool launched = std::getenv(kLaunchedVariable) != nullptr;
  try {
    // Under Slurm the ranks meet through a file in the run directory (shared storage), not a port.
    const auto world = distributed::world_from_environment(distributed::process_environment(), inv.run_dir);
    if (!inv.run_dir.empty() && !inv.dump_config && world.rank == 0) run_dir.emplace(inv.run_dir);
    auto config = resolve(inv);
    if (world.distributed() && config.ranks == 1) config.ranks = world.size;  // e.g. srun -n 4 isda-train ...
    if (inv.dump_config) {
      out << train::to_json(config).dump(2) << '\n';
      // What the estimator will hold (stderr: stdout stays the config's JSON).
      if (const auto memory = train::estimator_memory(config)) err << "isda-train: " << train::describe(*memory) << '\n';
      return kExitOk;
    }
    if (config.ranks > 1 && !world.distributed()) return launch_ranks(args, config, run_dir ? &*run_dir : nullptr, err);
    const bool lead = world.rank == 0;  // the rank that speaks for the run
    if (lead) out << "config: " << train::to_json(config).dump() << std::endl;
    train::TrainOptions options;
    options.opened_run_dir = run_dir ? &*run_dir : nullptr;
    options.stop_signal = &g_stop_signal;
    options.world = world;
    options.log_failures = !launched;
    options.open_extra_images = gan::open_generated_images;  // Table 3: a classifier's generated images
    if (lead) {
      options.on_epoch = [&](const train::EpochMetrics& m) {
        if (config.task == "classify") {
          out << train::format_epoch_line(m, config.epochs) << std::endl;
        } else {
          out << fmt::format("epoch {}/{} generator_loss {:.4f} time {:.1f}s {:.0f} img/s", m.epoch, config.epochs, m.train_loss,
                             m.seconds, m.images_per_second)
              << std::endl;
        }
      };
      options.on_note = [&](const std::string& note) { err << "isda-train: " << note << std::endl; };
    }
    training = true;
    if (config.task != "classify") {  // a generator run (core/gan)
      const auto result = gan::train_generator(config, options);
      out << "result: task " << config.task << " epochs " << result.epochs.size() << " generator_loss "
          << fmt::format("{:.4f}", result.epochs.back().train_loss) << " class_consistency "
          << fmt::format("{:.3f}", result.class_consistency) << " judge_test_accuracy "
          << fmt::format("{:.3f}", result.judge_test_accuracy) << std::endl;
      return kExitOk;
    }
    const auto result = train::train(config, options);
    if (!lead) return kExitOk;
    const auto percent = [](double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.2f}%", v); };
    out << "result: method " << config.method << " test_err " << percent(result.final_test_error)
        << " last10_test_err " << percent(result.last10_test_error) << " best_test_err "
        << percent(result.best_test_error);
    if (!std::isnan(result.last10_validation_error)) out << " last10_val_err " << percent(result.last10_validation_error);
    out << std::endl;
    return kExitOk;
  } catch (const train::Interrupted& e) {
    err << "isda-train: " << e.what() << "; checkpointed, rerun to resume\n";
    return 128 + e.signal;
  } catch (const std::exception& e) {
    const auto failure = train::failure_of(e);
    if (run_dir && !training && !launched) train::log_failure(*run_dir, failure);
    return fail(failure.exit_code, failure.reason, failure.fault);
  }
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  for (const int signal_number : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal_number, &action, nullptr);
}

}  // namespace isda::command
