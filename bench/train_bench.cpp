#include "train_bench.h"

#include "train/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <exception>
#include <ostream>
#include <sstream>

namespace isda::bench {
namespace {

struct TrainBenchOptions {
  std::vector<std::string> models = {"resnet32", "resnet110", "wrn28_10"};
  std::vector<std::string> methods = {"ce", "isda"};
  std::string dataset = "cifar10";
  std::string data_root;
  std::string device = "auto";
  std::string precision = "fp32";
  bool channels_last = false;
  bool cuda_graph = false;
  bool json = false;
  int64_t images = 0;  // 0: the whole training set
  int64_t batch = 128;
  int64_t epochs = 2;  // the last one is reported
  int64_t test_images = 1000;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) parts.push_back(part);
  return parts;
}

TrainBenchOptions parse(const std::vector<std::string>& args) {
  TrainBenchOptions o;
  if (const char* root = std::getenv("ISDA_DATA_ROOT")) o.data_root = root;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& key = args[i];
    if (key == "--channels-last") {
      o.channels_last = true;
      continue;
    }
    if (key == "--cuda-graph") {
      o.cuda_graph = true;
      continue;
    }
    if (key == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= args.size()) throw std::invalid_argument("option " + key + " needs a value");
    const auto& value = args[++i];
    if (key == "--models") o.models = split(value);
    else if (key == "--methods") o.methods = split(value);
    else if (key == "--dataset") o.dataset = value;
    else if (key == "--data-root") o.data_root = value;
    else if (key == "--device") o.device = value;
    else if (key == "--precision") o.precision = value;
    else if (key == "--images") o.images = std::stoll(value);
    else if (key == "--batch") o.batch = std::stoll(value);
    else if (key == "--epochs") o.epochs = std::stoll(value);
    else if (key == "--test-images") o.test_images = std::stoll(value);
    else throw std::invalid_argument("unknown option " + key);
  }
  if (o.epochs < 1) throw std::invalid_argument("--epochs must be >= 1");
  if (o.test_images < 1) throw std::invalid_argument("--test-images must be >= 1");
  return o;
}

}  // namespace

int run_train_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  TrainBenchOptions o;
  try {
    o = parse(args);
  } catch (const std::exception& e) {
    err << "isda-bench: error: train: " << e.what() << '\n';
    return 2;
  }
  if (!o.json) {
    out << fmt::format("Training epochs on {} ({} images, batch {}, {}{}{}), {} epochs each, the last reported\n",
                       o.dataset, o.images > 0 ? std::to_string(o.images) : "all", o.batch, o.precision,
                       o.channels_last ? ", channels_last" : "", o.cuda_graph ? ", CUDA graph" : "", o.epochs);
    out << fmt::format("{:<18} {:<8} {:>12} {:>12} {:>14}\n", "model", "method", "s/epoch", "img/s", "s/50k images");
  }
  for (const auto& model : o.models) {
    std::vector<double> throughput;
    for (const auto& method : o.methods) {
      train::TrainConfig c;
      c.dataset = o.dataset;
      c.data_root = o.data_root;
      c.model = model;
      c.method = method;
      c.lambda_schedule = "constant";
      c.epochs = o.epochs;  // the first as warm-up (allocator, cuDNN autotuning)
      c.lr_milestones = {};
      c.batch_size = o.batch;
      c.train_limit = o.images;
      c.test_limit = o.test_images;
      c.device = o.device;
      c.precision = o.precision;
      c.channels_last = o.channels_last;
      c.cuda_graph = o.cuda_graph;
      train::EpochMetrics last;
      try {
        last = train::train(c).epochs.back();
      } catch (const std::exception& e) {
        const std::string message = e.what();
        err << "isda-bench: error: train: " << model << " " << method << ": " << message.substr(0, message.find('\n')) << '\n';
        return 1;
      }
      throughput.push_back(last.images_per_second);
      if (o.json) {
        out << nlohmann::json{{"bench", "train_epoch"},     {"model", model},
                              {"method", method},           {"device", o.device},
                              {"precision", o.precision},   {"channels_last", o.channels_last},
                              {"cuda_graph", o.cuda_graph}, {"batch", o.batch},
                              {"images", o.images},         {"epochs", o.epochs},
                              {"epoch_seconds", last.seconds},  // training and the test
                              {"images_per_second", last.images_per_second},
                              {"seconds_per_50k", 50000.0 / last.images_per_second},
                              {"train_loss", last.train_loss}}
                   .dump()
            << '\n';
      } else {
        out << fmt::format("{:<18} {:<8} {:>12.2f} {:>12.0f} {:>14.2f}\n", model, method, last.seconds,
                           last.images_per_second, 50000.0 / last.images_per_second);
      }
    }
    if (!o.json && o.methods.size() == 2) {
      out << fmt::format("{:<18} {}/{} time per image: {:.3f}\n", model, o.methods[1], o.methods[0], throughput[0] / throughput[1]);
    }
  }
  return 0;
}

}  // namespace isda::bench
