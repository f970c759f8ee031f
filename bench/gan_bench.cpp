#include "gan_bench.h"

#include "isda_bench.h"
#include "gan/gan_trainer.h"
#include "train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <exception>
#include <ostream>

namespace isda::bench {
namespace {

struct GanBenchOptions {
  std::vector<std::string> kinds = {"wgan", "cgan", "acgan", "infogan"};
  std::string model = "resnet110";
  std::string dataset = "cifar10";
  std::string data_root;
  std::string device = "auto";
  int64_t images = 2048;
  int64_t width = 64;
  int64_t threads = 0;
};

}  // namespace

Command gan_bench_command_line() {
  const GanBenchOptions defaults;
  return benchmark_command(
      "gan", run_gan_bench,
      "one epoch of each generator (as a generator run trains it) beside one cross-entropy epoch of the\n"
      "classifier over the same images, and a generator run's share of a 160-epoch classifier run.\n",
      {
          value_option("--kinds", "a,b", "the generators").default_to(join_commas(defaults.kinds)),
          value_option("--model", "NAME", "the classifier").default_to(defaults.model),
          value_option("--dataset", "NAME", "the data set").default_to(defaults.dataset),
          data_root_option(),
          value_option("--images", "N", "training images").integer(64).default_to(std::to_string(defaults.images)),
          value_option("--width", "W", "the generators' width").integer(1).default_to(std::to_string(defaults.width)),
          device_option(defaults.device),
          value_option("--threads", "N", "CPU threads (0: LibTorch's default)")
              .integer(0)
              .default_to(std::to_string(defaults.threads)),
      });
}

int run_gan_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  GanBenchOptions o;
  o.kinds = split_commas(args.text("--kinds"));
  o.model = args.text("--model");
  o.dataset = args.text("--dataset");
  o.data_root = args.text("--data-root");
  o.device = args.text("--device");
  o.images = args.integer("--images");
  o.width = args.integer("--width");
  o.threads = args.integer("--threads");
  train::TrainConfig base;
  base.dataset = o.dataset;
  base.data_root = o.data_root;
  base.train_limit = o.images;
  base.test_limit = 100;
  base.device = o.device;
  base.threads = o.threads;
  base.epochs = 1;
  const auto seconds_of = [&](const train::TrainConfig& c, const char* what) {
    try {
      if (c.task != "classify") return gan::train_generator(c).epochs.back().seconds;  // all training (WGAN: 5 critic passes)
      return static_cast<double>(o.images) / train::train(c).epochs.back().images_per_second;  // training only, no test
    } catch (const std::exception& e) {
      const std::string message = e.what();
      throw std::runtime_error(std::string(what) + ": " + message.substr(0, message.find('\n')));
    }
  };
  auto classifier = base;
  classifier.model = o.model;
  classifier.method = "ce";
  classifier.lr_milestones = {};
  const double classifier_seconds = seconds_of(classifier, "classifier");
  out << fmt::format("Generator epochs beside a {} cross-entropy epoch, {} {} images, device {}, width {}\n", o.model,
                     o.images, o.dataset, o.device, o.width);
  out << fmt::format("{:<10} {:>10} {:>16} {:>30}\n", "run", "s/epoch", "x classifier", "25 epochs / 160 classifier epochs");
  out << fmt::format("{:<10} {:>10.2f} {:>16.2f} {:>30}\n", o.model, classifier_seconds, 1.0, "-");
  for (const auto& kind : o.kinds) {
    auto generator = base;
    generator.task = kind;
    generator.batch_size = train::kGeneratorBatchSize;
    generator.gan_width = o.width;
    const double s = seconds_of(generator, kind.c_str());
    // A generator run (25 epochs, once per data set and seed) against one 160-epoch classifier run.
    out << fmt::format("{:<10} {:>10.2f} {:>16.2f} {:>30.3f}\n", kind, s, s / classifier_seconds,
                       25 * s / (160 * classifier_seconds));
  }
  return 0;
}

}  // namespace isda::bench
