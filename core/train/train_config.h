#pragma once
// The description of one training run. Free of LibTorch so that the runner can use it.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isda::train {

// A bad key or value in a run's configuration; what() names the source and the key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainConfig {
  // What the run trains: a classifier, or (core/gan) one of the generators of the paper's Table 3.
  std::string task = "classify";  // classify | wgan | cgan | acgan | infogan

  // Data.
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100 | imagenet
  std::string data_root;                  // empty: the data set's default location
  bool holdout = false;                   // train on 45k, report validation on the held-out 5k
  uint64_t split_seed = 0;                // which 45k/5k split
  std::string augment = "standard";       // none | standard | cutout | autoaugment
  int64_t train_limit = 0;                // > 0: train on the first N images only
  int64_t test_limit = 0;                 // > 0: test on the first N images only
  int64_t image_size = 0;                 // image folders (imagenet): side of the crops (0: 224, the paper's)

  // Network.
  std::string model = "resnet20";
  double dropout = 0;  // for the networks that have dropout (Wide-ResNet: 0.3 in the authors' runs)

  // Loss.
  std::string method = "isda";  // ce | isda | large_margin | disturb_label | focal | center | lq
  double lambda0 = 0.5;
  std::string lambda_schedule = "epoch";  // epoch | iteration | constant
  std::string covariance = "full";        // full | diagonal | identity | single
  std::string estimator_dtype = "float64";   // float64 | float32: the ISDA estimator's state
  std::string estimator_sharding = "auto";   // auto (by class across the ranks: full covariance, ranks > 1) | off
  double margin = 2;                      // large_margin: multiplicative angular margin m
  double disturb_alpha = 0.1;             // disturb_label: probability of a random label
  double focal_gamma = 2;                 // focal: focusing exponent
  double center_lambda = 0.003;           // center: weight of the centre term
  double center_alpha = 0.5;              // center: centre learning rate
  double lq_q = 0.7;                      // lq: exponent q

  // Generated images (Table 3's generator rows; core/gan/README.md).
  std::string gan;                  // classify: the kind of generator whose samples join each batch ("": none)
  int64_t gan_epochs = 25;          // the generator run's epochs over the training set
  int64_t gan_width = 64;           // the generator's and discriminator's base channel count (DCGAN: 64)
  double generated_fraction = 0.2;  // classify with gan: share of generated images in each batch
  std::string generator_run;        // classify with gan: the generator run's id (beside the run's directory) or directory

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
  bool deterministic = false;      // deterministic CUDA kernels (cuDNN, cuBLAS, scatter-adds)
  bool cuda_graph = false;         // the training step captured in a CUDA graph (train/training_step.h)
  // Data parallel (distributed/README.md): `ranks` processes, each a share of every global batch.
  int64_t ranks = 1;               // 1: one process; N: N ranks (one per GPU, or N CPU processes)
  bool sync_bn = false;            // BatchNorm statistics over the global batch (default: per rank, as DDP)
  double dist_timeout = 300;       // seconds a collective waits for the other ranks before the run fails
  // isda-run: seconds without a finished step after which a worker counts as stalled, is stopped and
  // retried (0: the larger of 10 minutes and 20 times the run's slowest step so far).
  double stall_limit = 0;
};

struct ConfigKey {
  std::string key;
  std::string help;
};
// Every key with one line of help, in the order of to_json. A key's position in this list is its
// field index below.
const std::vector<ConfigKey>& config_keys();
inline constexpr size_t kConfigKeyCount = 50;  // config_keys().size(), checked there

// Keys added after run ids were first pinned (task, gan, gan_epochs, gan_width, generated_fraction,
// generator_run, image_size, stall_limit, estimator_dtype, estimator_sharding), and ranks and sync_bn, which became part of a run's
// identity after it was pinned: a config leaves them out of its JSON (to_json, CanonicalJsonWriter,
// so also of its run id) while they hold their default, so every earlier run keeps its id and its
// checkpoints.
bool is_optional_key(std::string_view key);

// Every key with its default value, optional keys included (for --help and flag types).
nlohmann::json key_defaults();

// The config of the generator run whose samples `classifier` (task classify, gan set) mixes into its
// batches: task = its gan, its data (dataset, data_root, holdout, split_seed, train_limit), gan_epochs
// as epochs, gan_width, batch size kGeneratorBatchSize, its seed, its execution keys; every other key
// at its default, so that the classifiers of one data set, generator and seed (every network of a
// table) share one generator run, and a cell's spread over seeds includes the generator's.
inline constexpr int64_t kGeneratorBatchSize = 64;
TrainConfig generator_config(const TrainConfig& classifier);

// The field index of `key`, or -1 for a key that is not a config key.
int config_key_index(std::string_view key);

// Sets the field at `index` from `value` as config_from_json does (an integer for a double field is
// converted). Throws ConfigError "<source>: <key>: expected <type>, got <type>" for a value of the
// wrong type; values are not validated (validate() checks the whole config).
void set_field(TrainConfig& config, size_t index, const nlohmann::json& value, const std::string& source);

// The field at `index` as JSON: what to_json(config)[key] is.
nlohmann::json field_json(const TrainConfig& config, size_t index);

// Keys that say only where and how fast a run executes (device, threads, data_root, deterministic,
// cuda_graph, dist_timeout, stall_limit, estimator_sharding), never what it computes; a run's identity leaves them out,
// and a checkpoint written with other values of them resumes. `ranks` and `sync_bn` are not among
// them: they change the BatchNorm statistics and the images an epoch leaves out, so a 1-GPU and an
// 8-GPU run are different runs (and a checkpoint of one does not resume the other).
bool is_execution_key(std::string_view key);

nlohmann::json to_json(const TrainConfig& config);

// Writes the canonical JSON text of configs, to_json(config).dump() byte for byte (keys sorted, no
// spaces), without building a JSON object: fast enough for grids of 100,000 runs. Each field's text
// is kept from the previous call while its value stays the same. Not thread-safe.
class CanonicalJsonWriter {
 public:
  CanonicalJsonWriter();
  // Sets `text` to the canonical JSON of `config` and returns the same object without the execution
  // keys (what a run id hashes), valid until the next call.
  const std::string& write(const TrainConfig& config, std::string& text);

 private:
  struct Field {
    std::string value_bytes;  // the value the fragment was written for
    std::string fragment;     // ,"key":value (no comma for the first key)
    bool written = false;
    bool execution = false;   // is_execution_key
    bool optional = false;    // is_optional_key: no fragment while the value is default_bytes
    std::string default_bytes;
  };
  std::vector<Field> fields_;  // by field index
  std::vector<size_t> order_;  // field indices in the order of sorted keys
  std::vector<std::pair<size_t, size_t>> cuts_;  // where the execution keys' fragments are in the text
  std::string identity_;
};

// The defaults with the named recipe's keys applied; the defaults for "". Throws ConfigError for an
// unknown recipe.
TrainConfig recipe_defaults(const std::string& recipe);

// Reads a config object: defaults, then the named recipe's values (if "recipe" is given), then the
// object's own keys. Throws ConfigError "<source>: <key>: <problem>" for an unknown key, a value of
// the wrong type, or an invalid value.
TrainConfig config_from_json(const nlohmann::json& object, const std::string& source);

// Checks the values of a config (ranges, known names, every floating-point value finite). Throws
// ConfigError naming the key and the value.
void validate(const TrainConfig& config, const std::string& source);

// Checks one key's value on its own: its type, range or names, not how it combines with other keys
// (a spec's `base`, grid and rules set keys one at a time; each run's whole config is validated when
// it is expanded). Throws ConfigError "<source>: <key>: <problem>".
void check_key_value(const std::string& key, const nlohmann::json& value, const std::string& source);

// The JSON value in the file at `path`. Throws ConfigError "<path>: <problem>" when the path is a
// directory, cannot be opened or read, or does not hold valid JSON.
nlohmann::json read_json_file(const std::string& path);

// read_json_file(path), which must be a JSON object (a run config's keys, checked by
// config_from_json). Throws ConfigError "<path>: <problem>", also for any other JSON value.
nlohmann::json load_config_file(const std::string& path);

// The learning rate of epoch `epoch` (0-based) under the config's schedule.
double learning_rate(const TrainConfig& config, int64_t epoch);

// The names of the recipes, and the keys each sets.
std::vector<std::string> recipe_names();
nlohmann::json recipe(const std::string& name);  // throws ConfigError for an unknown name

}  // namespace isda::train
