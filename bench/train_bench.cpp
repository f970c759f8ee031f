#include "train_bench.h"

#include "train/trainer.h"

#include <fmt/format.h>

#include <cstdlib>
#include <exception>
#include <ostream>
#include <sstream>

namespace isda::bench {
namespace {

struct TrainBenchOptions {
  std::vector<std::string> models = {"resnet32", "resnet110", "wrn28_10"};
  std::string dataset = "cifar10";
  std::string data_root;
  std::string device = "auto";
  std::string precision = "fp32";
  bool channels_last = false;
  int64_t images = 0;  // 0: the whole training set
  int64_t batch = 128;
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
    if (i + 1 >= args.size()) throw std::invalid_argument("option " + key + " needs a value");
    const auto& value = args[++i];
    if (key == "--models") o.models = split(value);
    else if (key == "--dataset") o.dataset = value;
    else if (key == "--data-root") o.data_root = value;
    else if (key == "--device") o.device = value;
    else if (key == "--precision") o.precision = value;
    else if (key == "--images") o.images = std::stoll(value);
    else if (key == "--batch") o.batch = std::stoll(value);
    else throw std::invalid_argument("unknown option " + key);
  }
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
  out << fmt::format("Training epochs on {} ({} images, batch {}, {}{}), one epoch each, CE and ISDA interleaved\n",
                     o.dataset, o.images > 0 ? std::to_string(o.images) : "all", o.batch, o.precision,
                     o.channels_last ? ", channels_last" : "");
  out << fmt::format("{:<18} {:>12} {:>12} {:>12} {:>12} {:>10}\n", "model", "CE s/epoch", "CE img/s", "ISDA s/epoch",
                     "ISDA img/s", "ISDA/CE");
  for (const auto& model : o.models) {
    double seconds[2] = {0, 0};
    double throughput[2] = {0, 0};
    try {
      // Two epochs each, the first as warm-up (allocator, cuDNN autotuning); the second is reported.
      for (int m = 0; m < 2; ++m) {
        train::TrainConfig c;
        c.dataset = o.dataset;
        c.data_root = o.data_root;
        c.model = model;
        c.method = m == 0 ? "ce" : "isda";
        c.lambda_schedule = "constant";
        c.epochs = 2;
        c.batch_size = o.batch;
        c.train_limit = o.images;
        c.test_limit = 1000;
        c.device = o.device;
        c.precision = o.precision;
        c.channels_last = o.channels_last;
        const auto result = train::train(c);
        const auto& last = result.epochs.back();
        throughput[m] = last.images_per_second;
        seconds[m] = last.seconds;
      }
    } catch (const std::exception& e) {
      const std::string message = e.what();
      err << "isda-bench: error: train: " << model << ": " << message.substr(0, message.find('\n')) << '\n';
      return 1;
    }
    out << fmt::format("{:<18} {:>12.2f} {:>12.0f} {:>12.2f} {:>12.0f} {:>10.3f}\n", model, seconds[0], throughput[0],
                       seconds[1], throughput[1], throughput[0] / throughput[1]);
  }
  return 0;
}

}  // namespace isda::bench
