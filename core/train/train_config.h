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
  // Data.
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100 | imagenet
  std::string data_root;                  // empty: the data set's default location
  bool holdout = false;                   // train on 45k, report validation on the held-out 5k
  uint64_t split_seed = 0;                // which 45k/5k split
  std::string augment = "standard";       // none | standard | cutout | autoaugment
  int64_t train_limit = 0;                // > 0: train on the first N images only
  int64_t test_limit = 0;                 // > 0: test on the first N images only

  // Network.
  std::string model = "resnet20";
  double dropout = 0;  // for the networks that have dropout (Wide-ResNet: 0.3 in the authors' runs)

  // Loss.
  std::string method = "isda";  // ce | isda | large_margin | disturb_label | focal | center | lq
  double lambda0 = 0.5;
  std::string lambda_schedule = "epoch";  // epoch | iteration | constant
  std::string covariance = "full";        // full | diagonal | identity | single
  double margin = 2;                      // large_margin: multiplicative angular margin m
  double disturb_alpha = 0.1;             // disturb_label: probability of a random label
  double focal_gamma = 2;                 // focal: focusing exponent
  double center_lambda = 0.003;           // center: weight of the centre term
  double center_alpha = 0.5;              // center: centre learning rate
  double lq_q = 0.7;                      // lq: exponent q

  // Optimisation.
  std::string recipe;  // a named recipe of the facts file (resnet, wrn, ...) filling the keys below
  int64_t epochs = 160;
  int64_t batch_size = 128;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 1e-4;
  std::string lr_schedule = "step";                // step | cosine (per epoch)
  std::vector<int64_t> lr_milestones = {80, 120};  // step: epochs (0-based) from which lr *= lr_gamma
  double lr_gamma = 0.1;
  bool lr_decay_early = false;                     // the authors' code: each decay one epoch early

  // Execution.
  uint64_t seed = 0;
  std::string device = "auto";     // auto | cpu | cuda | cuda:N
  std::string precision = "fp32";  // fp32 | bf16 (CUDA autocast)
  bool channels_last = false;      // CUDA memory format
  int64_t threads = 0;             // CPU threads; 0: LibTorch's default
};

struct ConfigKey {
  std::string key;
  std::string help;
};
// Every key with one line of help, in the order of to_json.
const std::vector<ConfigKey>& config_keys();

nlohmann::json to_json(const TrainConfig& config);

// Reads a config object: defaults, then the named recipe's values (if "recipe" is given), then the
// object's own keys. Throws ConfigError "<source>: <key>: <problem>" for an unknown key, a value of
// the wrong type, or an invalid value.
TrainConfig config_from_json(const nlohmann::json& object, const std::string& source);

// Checks the values of a config (ranges, known names). Throws ConfigError naming the key.
void validate(const TrainConfig& config, const std::string& source);

// The learning rate of epoch `epoch` (0-based) under the config's schedule.
double learning_rate(const TrainConfig& config, int64_t epoch);

// The names of the recipes, and the keys each sets.
std::vector<std::string> recipe_names();
nlohmann::json recipe(const std::string& name);  // throws ConfigError for an unknown name

}  // namespace isda::train
