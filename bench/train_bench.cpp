#include "train_bench.h"

#include "isda_bench.h"
#include "train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <exception>
#include <ostream>

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

TrainBenchOptions options_from(const Arguments& args) {
  TrainBenchOptions o;
  o.models = split_commas(args.text("--models"));
  o.methods = split_commas(args.text("--methods"));
  o.dataset = args.text("--dataset");
  o.data_root = args.text("--data-root");
  o.device = args.text("--device");
  o.precision = args.text("--precision");
  o.channels_last = args.has("--channels-last");
  o.cuda_graph = args.has("--cuda-graph");
  o.json = args.has("--json");
  o.images = args.integer("--images");
  o.batch = args.integer("--batch");
  o.epochs = args.integer("--epochs");
  o.test_images = args.integer("--test-images");
  return o;
}

}  // namespace

Command train_bench_command_line() {
  const TrainBenchOptions defaults;
  return benchmark_command(
      "train", run_train_bench,
      "whole training epochs through train() (data, augmentation, loss, SGD) of each model with each method,\n"
      "the last of --epochs reported: seconds per epoch, images/s, seconds per 50,000 images.\n",
      {
          value_option("--models", "a,b", "the networks").default_to(join_commas(defaults.models)),
          value_option("--methods", "a,b", "the losses").default_to(join_commas(defaults.methods)),
          value_option("--dataset", "NAME", "the data set").default_to(defaults.dataset),
          data_root_option(),
          value_option("--images", "N", "training images (0: the whole training set)")
              .integer(0)
              .default_to(std::to_string(defaults.images)),
          value_option("--batch", "N", "images per step").integer(1).default_to(std::to_string(defaults.batch)),
          value_option("--epochs", "N", "epochs of each run, the first a warm-up")
              .integer(1)
              .default_to(std::to_string(defaults.epochs)),
          value_option("--test-images", "N", "test images evaluated after each epoch")
              .integer(1)
              .default_to(std::to_string(defaults.test_images)),
          device_option(defaults.device),
          value_option("--precision", "NAME", "the training steps' precision")
              .one_of({"fp32", "bf16"})
              .default_to(defaults.precision),
          switch_option("--channels-last", "images and weights in channels_last"),
          switch_option("--cuda-graph", "training steps replayed from a CUDA graph"),
          switch_option("--json", "one JSON object per (model, method) instead of the table"),
      });
}

int run_train_bench(const Arguments& args, std::ostream& out, std::ostream& err) {
  const auto o = options_from(args);
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
