#include "train/run_log.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "data/data_error.h"
#include "distributed/world.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace isda::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

nlohmann::json to_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"train_loss", m.train_loss},
          {"train_error", m.train_error},
          {"test_error", m.test_error},
          {"validation_error", m.validation_error},
          {"test_top5_error", m.test_top5_error},
          {"lambda", m.lambda},
          {"lr", m.lr},
          {"seconds", m.seconds},
          {"images_per_second", m.images_per_second}};
}

EpochMetrics epoch_metrics_from_json(const nlohmann::json& o) {
  const auto number = [&o](const char* key) {
    const auto& v = o.at(key);
    return v.is_null() ? kNaN : v.get<double>();
  };
  EpochMetrics m;
  m.epoch = o.at("epoch").get<int64_t>();
  m.train_loss = number("train_loss");
  m.train_error = number("train_error");
  m.test_error = number("test_error");
  m.validation_error = number("validation_error");
  m.test_top5_error = o.contains("test_top5_error") ? number("test_top5_error") : kNaN;  // older checkpoints lack it
  m.lambda = number("lambda");
  m.lr = number("lr");
  m.seconds = number("seconds");
  m.images_per_second = number("images_per_second");
  return m;
}

nlohmann::json to_json(const TrainResult& r) {
  return {{"epochs", r.epochs.size()},
          {"final_test_error", r.final_test_error},
          {"best_test_error", r.best_test_error},
          {"last10_test_error", r.last10_test_error},
          {"last10_validation_error", r.last10_validation_error},
          {"last10_test_top5_error", r.last10_test_top5_error},
          {events::kClassConsistency, r.class_consistency},
          {events::kJudgeTestAccuracy, r.judge_test_accuracy}};
}

nlohmann::json epoch_event(const EpochMetrics& metrics) {
  auto event = to_json(metrics);
  event[events::kEvent] = events::kEpoch;
  return event;
}

nlohmann::json start_event(int64_t epoch, int64_t step, const std::string& device, const TrainConfig& config,
                           const support::RunEnvironment& environment) {
  return {{events::kEvent, events::kStart},
          {events::kEpoch, epoch},
          {events::kStep, step},
          {"device", device},
          {"libtorch", environment.libtorch},
          {"config", to_json(config)},
          {events::kEnvironment, events::to_json(environment)}};
}

void log_done(const RunDirectory& run_dir, const TrainResult& result) {
  run_dir.write_json(run_files::kResult, to_json(result));
  auto done = to_json(result);
  done[events::kEvent] = events::kDone;
  run_dir.append_event(done);
}

bool reconcile_epoch_events(const RunDirectory& run_dir, const std::vector<EpochMetrics>& epochs) {
  int64_t logged = 0;
  bool done = false;
  for (const auto& event : run_dir.read_events()) {
    if (event.value(events::kEvent, "") == events::kEpoch) logged = std::max(logged, event.value(events::kEpoch, int64_t{0}));
    if (event.value(events::kEvent, "") == events::kDone) done = true;
  }
  for (const auto& m : epochs) {
    if (m.epoch > logged) run_dir.append_event(epoch_event(m));
  }
  return done;
}

std::string format_epoch_line(const EpochMetrics& m, int64_t epochs) {
  const auto percent = [](double value) { return std::isnan(value) ? std::string("n/a") : fmt::format("{:.2f}%", value); };
  std::string line = fmt::format("epoch {}/{} loss {:.4f} train_err {:.2f}% test_err {}", m.epoch, epochs, m.train_loss,
                                 m.train_error, percent(m.test_error));
  if (!std::isnan(m.validation_error)) line += " val_err " + percent(m.validation_error);
  return line + fmt::format(" lambda {:.3f} lr {:.4g} time {:.1f}s {:.0f} img/s", m.lambda, m.lr, m.seconds,
                            m.images_per_second);
}

Failure failure_of(const std::exception& error) {
  if (const auto* failed = dynamic_cast<const RunFailure*>(&error)) return failed->failure();
  std::string reason = error.what();
  reason = reason.substr(0, reason.find('\n'));  // LibTorch's c10::Error carries a backtrace
  if (const auto* file = dynamic_cast<const common::FileError*>(&error)) {
    const auto fault = common::is_environment_fault(file->error_number) ? events::Fault::environment : events::Fault::run;
    return {fault == events::Fault::environment ? kExitEnvironment : kExitFailed, fault, reason};
  }
  if (dynamic_cast<const ConfigError*>(&error) || dynamic_cast<const UsageError*>(&error) ||
      dynamic_cast<const distributed::WorldError*>(&error) ||
      dynamic_cast<const std::invalid_argument*>(&error)) {
    return {kExitUsage, events::Fault::run, reason};
  }
  if (dynamic_cast<const data::DataError*>(&error)) return {kExitData, events::Fault::run, reason};
  if (dynamic_cast<const CheckpointError*>(&error)) return {kExitCheckpoint, events::Fault::run, reason};
  if (dynamic_cast<const RunDirectoryBusy*>(&error)) return {kExitBusy, events::Fault::run, reason};
  // A GPU that fell off the bus or hit an uncorrectable error: the machine's fault, not the run's.
  for (const char* lost : {"device not ready", "unspecified launch failure", "uncorrectable ECC", "GPU is lost",
                           "CUDA driver version is insufficient", "no CUDA-capable device"}) {
    if (reason.find(lost) != std::string::npos) return {kExitEnvironment, events::Fault::environment, reason};
  }
  return {kExitFailed, events::Fault::run, reason};
}

void log_failure(const RunDirectory& run_dir, const Failure& failure) {
  try {
    run_dir.append_event({{events::kEvent, events::kFailed},
                          {events::kReason, failure.reason},
                          {events::kFault, events::to_string(failure.fault)},
                          {events::kExitCode, failure.exit_code}});
  } catch (const std::exception&) {
    // A full disk can refuse this record too; the exit code still says it (kExitEnvironment).
  }
}

}  // namespace isda::train
