#include "train/train_config.h"

#include "train/config_names.h"

#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

std::string error_of(const nlohmann::json& object) {
  try {
    config_from_json(object, "run.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// The number of fields of an aggregate: the most values it can be brace-initialised from.
struct AnyValue {
  template <typename T>
  operator T() const;  // never defined: only used unevaluated
};
template <typename T, typename Indices, typename = void>
struct BraceConstructible : std::false_type {};
template <typename T, size_t... I>
struct BraceConstructible<T, std::index_sequence<I...>, std::void_t<decltype(T{(void(I), AnyValue{})...})>>
    : std::true_type {};
template <typename T, size_t N = 0>
constexpr size_t aggregate_field_count() {
  if constexpr (BraceConstructible<T, std::make_index_sequence<N + 1>>::value) {
    return aggregate_field_count<T, N + 1>();
  } else {
    return N;
  }
}

// A field added to TrainConfig without its row in the key table (train/config_fields.h) would be
// missing from JSON, --help, parsing, validation and run ids alike: this is where that shows.
TEST(TrainConfig, EveryFieldHasItsRowInTheKeyTable) {
  static_assert(std::is_aggregate_v<TrainConfig>);
  EXPECT_EQ(aggregate_field_count<TrainConfig>(), config_keys().size());
  EXPECT_EQ(config_keys().size(), kConfigKeyCount);
}

TEST(TrainConfig, RoundTripsThroughJson) {
  TrainConfig config;
  config.model = "resnet8";
  config.lambda0 = 0.25;
  config.lr_milestones = {3, 5};
  config.seed = 42;
  const auto back = config_from_json(to_json(config), "test");
  EXPECT_EQ(to_json(back), to_json(config));
}

TEST(TrainConfig, EveryKeyHasHelp) {
  const auto json = key_defaults();
  EXPECT_EQ(config_keys().size(), json.size());
  for (const auto& key : config_keys()) EXPECT_TRUE(json.contains(key.key)) << key.key;
}

// The generator keys came after run ids were pinned: at their defaults they are left out of the
// JSON (and so of every earlier run's id); set, they are there, also in the canonical text.
TEST(TrainConfig, GeneratorKeysAreLeftOutAtTheirDefaults) {
  const auto plain = to_json(TrainConfig{});
  const auto optional = {"task", "gan", "gan_epochs", "gan_width", "generated_fraction", "generator_run", "image_size",
                         "stall_limit", "ranks", "sync_bn", "estimator_dtype", "estimator_sharding"};
  for (const char* key : optional) {
    EXPECT_TRUE(is_optional_key(key));
    EXPECT_FALSE(plain.contains(key)) << key;
    EXPECT_TRUE(key_defaults().contains(key)) << key;
  }
  EXPECT_EQ(plain.size() + optional.size(), config_keys().size());
  TrainConfig classifier;
  classifier.gan = "acgan";
  classifier.generator_run = "0123456789abcdef";
  const auto json = to_json(classifier);
  EXPECT_EQ(json.at("gan"), "acgan");
  EXPECT_FALSE(json.contains("gan_epochs"));
  EXPECT_EQ(to_json(config_from_json(json, "x")), json);
  CanonicalJsonWriter writer;
  std::string text;
  writer.write(classifier, text);
  EXPECT_EQ(text, json.dump());
  writer.write(TrainConfig{}, text);
  EXPECT_EQ(text, plain.dump());
  // A float32 estimator is another run (its own id); the sharding only says how ranks hold it.
  TrainConfig float32;
  float32.estimator_dtype = "float32";
  float32.estimator_sharding = "off";
  EXPECT_EQ(to_json(float32).at("estimator_dtype"), "float32");
  EXPECT_FALSE(is_execution_key("estimator_dtype"));
  EXPECT_TRUE(is_execution_key("estimator_sharding"));
}

TEST(TrainConfig, GeneratorConfigKeepsTheDataAndTheGeneratorKeysOnly) {
  TrainConfig classifier = recipe_defaults("wrn");
  classifier.dataset = "cifar100";
  classifier.train_limit = 500;
  classifier.gan = "infogan";
  classifier.gan_epochs = 3;
  classifier.seed = 2;
  classifier.device = "cpu";
  classifier.generator_run = "x";
  const auto g = generator_config(classifier);
  EXPECT_EQ(g.task, "infogan");
  EXPECT_EQ(g.dataset, "cifar100");
  EXPECT_EQ(g.train_limit, 500);
  EXPECT_EQ(g.epochs, 3);
  EXPECT_EQ(g.batch_size, kGeneratorBatchSize);
  EXPECT_EQ(g.seed, 2u);  // one generator per seed: a cell's spread includes the generator's
  EXPECT_EQ(g.device, "cpu");
  EXPECT_EQ(g.model, TrainConfig{}.model);
  EXPECT_TRUE(g.gan.empty());
  EXPECT_TRUE(g.generator_run.empty());
  EXPECT_NO_THROW(validate(g, "g"));
  classifier.model = "resnet110";  // every network of a seed shares the generator
  classifier.lr = 0.3;
  EXPECT_EQ(to_json(generator_config(classifier)), to_json(g));
  classifier.seed = 1;
  EXPECT_EQ(generator_config(classifier).seed, 1u);
}

TEST(TrainConfig, ErrorsNameTheSourceAndTheKey) {
  EXPECT_THAT(error_of({{"task", "vae"}}), HasSubstr("run.json: task: unknown value \"vae\" (known: classify, wgan, cgan, acgan, infogan)"));
  EXPECT_THAT(error_of({{"gan", "stylegan"}}), HasSubstr("run.json: gan: unknown value \"stylegan\""));
  EXPECT_THAT(error_of({{"task", "cgan"}, {"gan", "cgan"}}), HasSubstr("run.json: gan: names the generator a classifier"));
  EXPECT_THAT(error_of({{"generator_run", "abc"}}), HasSubstr("run.json: generator_run: needs gan"));
  EXPECT_THAT(error_of({{"generated_fraction", 1.0}}), HasSubstr("run.json: generated_fraction: must be in (0, 1)"));
  EXPECT_THAT(error_of({{"task", "wgan"}, {"dataset", "imagenet"}}), HasSubstr("run.json: task: generators train on"));
  EXPECT_THAT(error_of({{"epohcs", 3}}), HasSubstr("run.json: epohcs: unknown key"));
  EXPECT_THAT(error_of({{"epochs", "ten"}}), HasSubstr("run.json: epochs: expected an integer, got a string"));
  EXPECT_THAT(error_of({{"epochs", 0}}), HasSubstr("run.json: epochs: must be positive"));
  EXPECT_THAT(error_of({{"method", "mixup"}}), HasSubstr("run.json: method: unknown value \"mixup\" (known: ce, isda, large_margin, disturb_label, focal, center, lq)"));
  EXPECT_THAT(error_of({{"covariance", "low-rank"}}), HasSubstr("covariance: unknown value"));
  EXPECT_THAT(error_of({{"lambda0", -1}}), HasSubstr("lambda0: must not be negative"));
  EXPECT_THAT(error_of({{"lr_milestones", {5, 3}}}), HasSubstr("lr_milestones: must be increasing"));
  EXPECT_THAT(error_of({{"seed", -1}}), HasSubstr("seed: expected"));
  EXPECT_THAT(error_of({{"nesterov", 1}}), HasSubstr("nesterov: expected a boolean"));
  EXPECT_THAT(error_of({{"device", "tpu"}}), HasSubstr("device: unknown value \"tpu\""));
  EXPECT_THAT(error_of(nlohmann::json::array()), HasSubstr("run.json: expected a JSON object"));
}

// An integer key's value is shown as the integer it is; a key's names come from one table
// (train/config_names.h), and each key's help lists them.
TEST(TrainConfig, ValuesAreShownAsTheKeyHoldsThemAndHelpListsEveryName) {
  EXPECT_THAT(error_of({{"batch_size", 0}}), HasSubstr("batch_size: must be positive, got 0"));
  EXPECT_THAT(error_of({{"epochs", -3}}), HasSubstr("epochs: must be positive, got -3"));
  EXPECT_THAT(error_of({{"lr", 0.0}}), HasSubstr("lr: must be positive, got 0.0"));
  const auto help_of = [](const std::string& key) {
    for (const auto& k : config_keys()) {
      if (k.key == key) return k.help;
    }
    return std::string();
  };
  const auto expect_listed = [&](const std::string& key, const auto& names) {
    for (const auto name : names) EXPECT_THAT(help_of(key), HasSubstr(std::string(name))) << key;
  };
  expect_listed("dataset", names::kDatasets);
  expect_listed("augment", names::kAugments);
  expect_listed("task", names::kTasks);
  expect_listed("gan", names::kGans);
  expect_listed("method", names::kMethods);
  expect_listed("lambda_schedule", names::kLambdaSchedules);
  expect_listed("covariance", names::kCovariances);
  expect_listed("lr_schedule", names::kLrSchedules);
  expect_listed("precision", names::kPrecisions);
}

// A key's value is judged alone; how it combines with other keys is judged for the whole config.
TEST(TrainConfig, AKeyValueIsCheckedOnItsOwn) {
  EXPECT_NO_THROW(check_key_value("ranks", 3, "spec"));  // 128 does not split into 3, but batch_size may be set too
  EXPECT_THROW(check_key_value("ranks", 0, "spec"), ConfigError);
  try {
    check_key_value("precision", "fp16", "spec");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "spec: precision: unknown value \"fp16\" (known: fp32, bf16)");
  }
  EXPECT_THAT(error_of({{"ranks", 3}}), HasSubstr("batch_size: the global batch 128 does not split into 3"));
}

// The command line turns "--lr inf" into a JSON number inf (std::stod); every floating-point key
// refuses it, -inf and NaN. (A file's 1e999 is refused when it is read: AConfigFileIs... below.)
TEST(TrainConfig, FloatingPointValuesMustBeFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_of({{"lr", inf}}), "run.json: lr: must be a finite number, got inf");
  EXPECT_EQ(error_of({{"momentum", inf}}), "run.json: momentum: must be a finite number, got inf");
  EXPECT_EQ(error_of({{"lr_gamma", -inf}}), "run.json: lr_gamma: must be a finite number, got -inf");
  EXPECT_EQ(error_of({{"weight_decay", nan}}), "run.json: weight_decay: must be a finite number, got nan");
  // Every double field, whatever its range check.
  size_t checked = 0;
  const auto defaults = key_defaults();
  for (const auto& key : config_keys()) {
    if (!defaults[key.key].is_number_float()) continue;
    ++checked;
    EXPECT_EQ(error_of({{key.key, inf}}), "run.json: " + key.key + ": must be a finite number, got inf");
    TrainConfig config;
    set_field(config, static_cast<size_t>(config_key_index(key.key)), nan, "");
    EXPECT_THROW(validate(config, "x"), ConfigError) << key.key;
  }
  EXPECT_EQ(checked, 15u) << "the double fields of TrainConfig";
  EXPECT_EQ(error_of({{"lr", 1e300}, {"momentum", 0.9}}), "") << "large but finite is a value";
}

TEST(TrainConfig, DeviceIsAutoCpuCudaOrCudaIndex) {
  for (const std::string device : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    EXPECT_EQ(error_of({{"device", device}}), "") << device;
  }
  for (const std::string device : {"cuda:", "cuda:x", "cuda:0/../1", "cuda:-1", "gpu"}) {
    EXPECT_EQ(error_of({{"device", device}}),
              "run.json: device: unknown value \"" + device + "\" (known: auto, cpu, cuda, cuda:N)");
  }
}

TEST(TrainConfig, AConfigFileIsAJsonObjectInAReadableFile) {
  testing::ScratchDir dir;
  const auto file = dir.file("run.json");
  std::ofstream(file) << R"({"epochs": 3, "model": "resnet8"})";
  EXPECT_EQ(load_config_file(file), (nlohmann::json{{"epochs", 3}, {"model", "resnet8"}}));
  const auto error = [](const std::string& path) {
    try {
      load_config_file(path);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(dir.path().string()), dir.path().string() + ": is a directory, not a JSON file");
  EXPECT_EQ(error(dir.file("absent.json")), dir.file("absent.json") + ": cannot open file (No such file or directory)");
  std::ofstream(dir.file("array.json")) << "[1, 2]";
  EXPECT_EQ(error(dir.file("array.json")), dir.file("array.json") + ": expected a JSON object, got an array");
  std::ofstream(dir.file("broken.json")) << R"({"epochs": )";
  EXPECT_THAT(error(dir.file("broken.json")), ::testing::StartsWith(dir.file("broken.json") + ": invalid JSON: parse error"));
  std::ofstream(dir.file("huge.json")) << R"({"lr": 1e999})";
  EXPECT_EQ(error(dir.file("huge.json")), dir.file("huge.json") + ": invalid JSON: number overflow parsing '1e999'");
  std::ofstream(dir.file("empty.json"));
  EXPECT_THAT(error(dir.file("empty.json")), ::testing::StartsWith(dir.file("empty.json") + ": invalid JSON: "));
  for (const auto& name : {"array.json", "broken.json", "empty.json"}) {
    EXPECT_EQ(error(dir.file(name)).find('\n'), std::string::npos) << name;
  }
  EXPECT_EQ(read_json_file(dir.file("array.json")), nlohmann::json::parse("[1, 2]"));
}

TEST(TrainConfig, RecipesFillKeysThatExplicitKeysOverride) {
  const auto wrn = config_from_json({{"recipe", "wrn"}}, "run.json");
  EXPECT_EQ(wrn.epochs, 240);
  EXPECT_EQ(wrn.lr_milestones, (std::vector<int64_t>{60, 120, 160, 200}));
  EXPECT_DOUBLE_EQ(wrn.lr_gamma, 0.2);
  EXPECT_DOUBLE_EQ(wrn.weight_decay, 5e-4);
  EXPECT_DOUBLE_EQ(wrn.dropout, 0.3);
  const auto shorter = config_from_json({{"recipe", "wrn"}, {"epochs", 3}}, "run.json");
  EXPECT_EQ(shorter.epochs, 3);
  EXPECT_EQ(config_from_json({{"recipe", "shake_shake"}}, "x").lr_schedule, "cosine");
  EXPECT_THAT(error_of({{"recipe", "vgg"}}), HasSubstr("run.json: recipe: unknown recipe \"vgg\" (known: densenet"));
}

TEST(TrainConfig, FieldsByIndexAreTheKeysOfToJson) {
  TrainConfig config;
  config.model = "wrn28_10";
  config.lr_milestones = {7};
  const auto json = to_json(config);
  ASSERT_EQ(config_keys().size(), kConfigKeyCount);
  for (size_t i = 0; i < config_keys().size(); ++i) {
    const auto& key = config_keys()[i].key;
    EXPECT_EQ(config_key_index(key), static_cast<int>(i));
    EXPECT_EQ(field_json(config, i), json.contains(key) ? json.at(key) : key_defaults().at(key)) << key;
    EXPECT_EQ(json.contains(key), !is_optional_key(key)) << key;  // the optional keys hold their defaults
  }
  EXPECT_EQ(config_key_index("epohcs"), -1);
  set_field(config, static_cast<size_t>(config_key_index("lambda0")), 2, "x");  // an integer for a double
  EXPECT_EQ(config.lambda0, 2.0);
  set_field(config, static_cast<size_t>(config_key_index("lr_milestones")), nlohmann::json::array(), "x");
  EXPECT_TRUE(config.lr_milestones.empty());
  try {
    set_field(config, static_cast<size_t>(config_key_index("epochs")), 1.5, "spec.json");
    FAIL() << "a number was taken for an integer";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "spec.json: epochs: expected an integer, got a number");
  }
  auto wrn = recipe_defaults("wrn");  // the recipe's keys, not the recipe key itself
  EXPECT_EQ(wrn.recipe, "");
  wrn.recipe = "wrn";
  EXPECT_EQ(to_json(wrn), to_json(config_from_json({{"recipe", "wrn"}}, "x")));
  EXPECT_EQ(to_json(recipe_defaults("")), to_json(TrainConfig{}));
  EXPECT_THROW(recipe_defaults("vgg"), ConfigError);
  EXPECT_TRUE(is_execution_key("device") && is_execution_key("threads") && is_execution_key("data_root"));
  EXPECT_FALSE(is_execution_key("seed"));
}

// A 1-GPU and an 8-GPU run differ (BatchNorm statistics, the images an epoch leaves out): ranks and
// sync_bn are part of a run's identity, left out of its JSON at their defaults so that every
// single-process run keeps the id it had.
TEST(TrainConfig, RanksAndSyncBnArePartOfARunsIdentityOnlyAwayFromTheirDefaults) {
  EXPECT_FALSE(is_execution_key("ranks"));
  EXPECT_FALSE(is_execution_key("sync_bn"));
  TrainConfig one;
  EXPECT_FALSE(to_json(one).contains("ranks"));
  EXPECT_FALSE(to_json(one).contains("sync_bn"));
  TrainConfig eight = one;
  eight.ranks = 8;
  EXPECT_EQ(to_json(eight).at("ranks"), 8);
  CanonicalJsonWriter writer;
  std::string text;
  const std::string identity_one = writer.write(one, text);
  const std::string identity_eight = writer.write(eight, text);
  EXPECT_NE(identity_one, identity_eight);
  EXPECT_NE(identity_eight.find("\"ranks\":8"), std::string::npos);
  EXPECT_TRUE(is_execution_key("stall_limit"));
}

TEST(TrainConfig, OfSeveralBadValuesTheFirstFieldsIsReported) {
  EXPECT_THAT(error_of({{"threads", "two"}, {"epochs", "ten"}}), HasSubstr("run.json: epochs: expected an integer"));
}

// The canonical JSON of a config, without building a JSON object: dump()'s bytes exactly, also
// when only some fields change from one call to the next (each field's text is kept).
std::string without_execution_keys(nlohmann::json object) {
  for (const auto& key : {"device", "threads", "data_root", "deterministic", "cuda_graph", "dist_timeout", "stall_limit"}) {
    object.erase(key);
  }
  return object.dump();
}

TEST(CanonicalJsonWriter, WritesWhatDumpWrites) {
  std::mt19937_64 random(7);
  const auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
  const std::vector<std::string> strings = {"", "cifar10", "d\u00e9j\u00e0 vu", "quote \" and \\ backslash",
                                            "tab\tnew\nline\x01", "/a/very/long/path/to/the/data/set/files/of/cifar"};
  const std::vector<double> doubles = {0.0, -0.0, 0.1, 1e-4, 5e-4, 1.0, 7.5, 1e300, 4.9e-324, 0.3333333333333333,
                                       123456789.125, -2.5, 1e21, 1e-7};
  CanonicalJsonWriter writer;
  TrainConfig config;
  std::string text;
  for (int step = 0; step < 2000; ++step) {
    // Change one to three fields at a time, sometimes back to an earlier value.
    for (size_t n = 1 + pick(3); n-- > 0;) {
      switch (pick(8)) {
        case 0: config.dataset = strings[pick(strings.size())]; break;
        case 1: config.data_root = strings[pick(strings.size())]; break;
        case 2: config.lr = doubles[pick(doubles.size())]; break;
        case 3: config.lambda0 = std::ldexp(static_cast<double>(random() >> 11), -static_cast<int>(pick(80))); break;
        case 4: config.seed = random(); break;
        case 5: config.epochs = static_cast<int64_t>(random()); break;
        case 6: config.nesterov = !config.nesterov; break;
        default: {
          config.lr_milestones.clear();
          for (size_t m = pick(4); m-- > 0;) config.lr_milestones.push_back(static_cast<int64_t>(pick(300)) - 1);
        }
      }
    }
    const auto json = to_json(config);
    const auto& identity = writer.write(config, text);
    ASSERT_EQ(text, json.dump()) << "step " << step;
    ASSERT_EQ(identity, without_execution_keys(json)) << "step " << step;
  }
  // A second writer (nothing kept) agrees with the first.
  CanonicalJsonWriter fresh;
  std::string again;
  EXPECT_EQ(fresh.write(config, again), writer.write(config, text));
  EXPECT_EQ(again, text);
}

TEST(TrainConfig, LearningRateSchedules) {
  TrainConfig c;
  c.lr = 0.1;
  c.lr_milestones = {80, 120};
  c.lr_gamma = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(c, 79), 0.1);
  EXPECT_NEAR(learning_rate(c, 80), 0.01, 1e-15);
  EXPECT_NEAR(learning_rate(c, 120), 0.001, 1e-15);
  c.lr_decay_early = true;  // the authors' code: one epoch early
  EXPECT_NEAR(learning_rate(c, 79), 0.01, 1e-15);
  c.lr_schedule = "cosine";
  c.epochs = 100;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.1);
  EXPECT_NEAR(learning_rate(c, 50), 0.05, 1e-15);
  EXPECT_NEAR(learning_rate(c, 99), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-15);
}

}  // namespace
}  // namespace isda::train
