#include "gan_bench.h"

#include "gan/gan_trainer.h"
#include "train/trainer.h"

#include <fmt/format.h>

#include <cstdlib>
#include <exception>
#include <ostream>
#include <sstream>

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

GanBenchOptions parse(const std::vector<std::string>& args) {
  GanBenchOptions o;
  if (const char* root = std::getenv("ISDA_DATA_ROOT")) o.data_root = std::string(root) + "/cifar10";
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& key = args[i];
    if (i + 1 >= args.size()) throw std::invalid_argument("option " + key + " needs a value");
    const auto& value = args[++i];
    if (key == "--kinds") {
      o.kinds.clear();
      std::stringstream in(value);
      for (std::string part; std::getline(in, part, ',');) o.kinds.push_back(part);
    } else if (key == "--model") o.model = value;
    else if (key == "--dataset") o.dataset = value;
    else if (key == "--data-root") o.data_root = value;
    else if (key == "--device") o.device = value;
    else if (key == "--images") o.images = std::stoll(value);
    else if (key == "--width") o.width = std::stoll(value);
    else if (key == "--threads") o.threads = std::stoll(value);
    else throw std::invalid_argument("unknown option " + key);
  }
  if (o.images < 64) throw std::invalid_argument("--images must be >= 64");
  return o;
}

}  // namespace

int run_gan_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  GanBenchOptions o;
  try {
    o = parse(args);
  } catch (const std::exception& e) {
    err << "isda-bench: error: gan: " << e.what() << '\n';
    return 2;
  }
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
      const auto epoch = c.task == "classify" ? train::train(c).epochs.back() : gan::train_generator(c).epochs.back();
      return static_cast<double>(o.images) / epoch.images_per_second;  // training only, no test
    } catch (const std::exception& e) {
      const std::string message = e.what();
      throw std::runtime_error(std::string(what) + ": " + message.substr(0, message.find('\n')));
    }
  };
  try {
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
      // A generator run (25 epochs, once per data set) against one 160-epoch classifier run.
      out << fmt::format("{:<10} {:>10.2f} {:>16.2f} {:>30.3f}\n", kind, s, s / classifier_seconds,
                         25 * s / (160 * classifier_seconds));
    }
  } catch (const std::exception& e) {
    err << "isda-bench: error: gan: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace isda::bench
