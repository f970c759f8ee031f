#pragma once
// Trains one configuration end to end: data -> model -> loss (CE or ISDA) -> SGD, with one
// metrics line per epoch. Free of LibTorch so that thin mains and the runner can include it.

#include "train/train_config.h"

#include <functional>
#include <ostream>
#include <stdexcept>
#include <vector>

namespace isda::train {

// The run cannot go on (NaN loss, unusable device); what() says why in one line.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct EpochMetrics {
  int64_t epoch = 0;          // 1-based
  double train_loss = 0;      // mean training loss (the augmented loss for ISDA)
  double train_error = 0;     // percent, from the clean logits
  double test_error = 0;      // percent
  double lambda = 0;          // lambda of the epoch's last step
  double lr = 0;
  double seconds = 0;         // wall time of the epoch (training + evaluation)
  double images_per_second = 0;  // training throughput
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  double final_test_error = 0;
  double best_test_error = 0;
  double last10_test_error = 0;  // mean over the last min(10, epochs) epochs: the paper's metric
};

// The fixed, greppable line isda-train prints per epoch.
std::string format_epoch_line(const EpochMetrics& metrics, int64_t epochs);

// Runs `config` (validated again here). Calls `on_epoch` after every epoch when given.
// Throws ConfigError for a bad config, data::DataError for missing or broken data, TrainingError
// when training cannot continue.
TrainResult train(const TrainConfig& config, const std::function<void(const EpochMetrics&)>& on_epoch = {});

}  // namespace isda::train
