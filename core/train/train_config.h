#pragma once
// The description of one training run. Free of LibTorch so that the runner can use it.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::train {

// A bad key or value in a run's configuration; what() names the source and the key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainConfig {
  std::string model = "resnet20";
  std::string dataset = "fashion-mnist";
  std::string data_root;  // empty: the dataset's default location
  int64_t train_limit = 0;  // > 0: train on the first N images only
  int64_t test_limit = 0;   // > 0: test on the first N images only

  std::string method = "isda";  // "ce" (plain cross-entropy) or "isda"
  double lambda0 = 0.5;
  std::string lambda_schedule = "epoch";  // epoch | iteration | constant
  std::string covariance = "full";        // full | diagonal | identity | single

  int64_t epochs = 160;
  int64_t batch_size = 128;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 1e-4;
  std::vector<int64_t> lr_milestones = {80, 120};  // epochs (0-based) at which lr *= lr_gamma
  double lr_gamma = 0.1;

  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int64_t threads = 0;          // CPU threads; 0: LibTorch's default
};

// One line of help per key, in the order of to_json's keys.
struct ConfigKey {
  const char* key;
  const char* help;
};
const std::vector<ConfigKey>& config_keys();

nlohmann::json to_json(const TrainConfig& config);

// Reads a config object over the defaults. Throws ConfigError "<source>: <key>: <problem>" for an
// unknown key, a value of the wrong type, or an invalid value.
TrainConfig config_from_json(const nlohmann::json& object, const std::string& source);

// Checks the values of a config (ranges, known names). Throws ConfigError naming the key.
void validate(const TrainConfig& config, const std::string& source);

}  // namespace isda::train
