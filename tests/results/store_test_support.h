#pragma once
// Helpers for the results store tests: a scratch directory and event logs written exactly as
// isda-train writes them (core/train/run_directory.cpp and trainer.cpp): one JSON object per line,
// "event" and "time" on every line, NaN metrics as null.

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace isda::results::testing {

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("isda_results_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline nlohmann::json null_if_nan(double value) { return std::isnan(value) ? nlohmann::json() : nlohmann::json(value); }

// Appends events to a log the way RunDirectory::append_event does (dump() plus '\n').
class EventLog {
 public:
  explicit EventLog(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  void append(nlohmann::json event) {
    event["time"] = 1.7e9 + static_cast<double>(lines_++);
    append_raw(event.dump() + "\n");
  }
  void append_raw(const std::string& text) const {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    out << text;
  }

  void start(int64_t epoch = 0) {
    append({{"event", "start"}, {"epoch", epoch}, {"step", 0}, {"device", "cpu"}, {"libtorch", "2.1.2"},
            {"config", {{"model", "resnet8"}, {"epochs", 2}}}});
  }
  // A start as isda-train writes it since it records its environment (support::RunEnvironment).
  void start_on(const nlohmann::json& environment, int64_t epoch = 0) {
    append({{"event", "start"}, {"epoch", epoch}, {"step", 0}, {"device", "cuda:0"}, {"libtorch", "2.11.0"},
            {"config", {{"model", "resnet8"}, {"epochs", 2}}}, {"environment", environment}});
  }
  void epoch(int64_t number, double test_error, double validation_error = NAN) {
    append({{"epoch", number},
            {"train_loss", 2.0 / static_cast<double>(number)},
            {"train_error", 50.0 / static_cast<double>(number)},
            {"test_error", null_if_nan(test_error)},
            {"validation_error", null_if_nan(validation_error)},
            {"lambda", 0.5 * static_cast<double>(number) / 10.0},
            {"lr", 0.1},
            {"seconds", 12.5},
            {"images_per_second", 960.0},
            {"event", "epoch"}});
  }
  void done(size_t epochs, double final_test_error, double best_test_error, double last10_test_error) {
    append({{"epochs", epochs},
            {"final_test_error", final_test_error},
            {"best_test_error", best_test_error},
            {"last10_test_error", last10_test_error},
            {"last10_validation_error", nullptr},
            {"event", "done"}});
  }
  void failed(const std::string& reason) { append({{"event", "failed"}, {"reason", reason}}); }
  void interrupted(int signal, int64_t epoch, int64_t step) {
    append({{"event", "interrupted"}, {"signal", signal}, {"epoch", epoch}, {"step", step}});
  }

 private:
  std::string path_;
  int lines_ = 0;
};

}  // namespace isda::results::testing
