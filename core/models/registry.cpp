#include "models/registry.h"

#include "models/cifar_resnet.h"
#include "models/densenet.h"
#include "models/imagenet_resnet.h"
#include "models/layers.h"
#include "models/pyramidnet.h"
#include "models/resnext.h"
#include "models/shake_shake.h"
#include "models/wide_resnet.h"

#include <torch/torch.h>

#include <functional>
#include <stdexcept>

namespace isda::models {
namespace {

using Factory = std::function<std::shared_ptr<Classifier>(const ModelOptions&)>;

constexpr std::array<int64_t, 3> kCifarInput = {3, 32, 32};
constexpr std::array<int64_t, 3> kImageNetInput = {3, 224, 224};

struct Entry {
  std::string name;
  Factory make;
  int64_t default_num_classes;
  std::array<int64_t, 3> input_shape;
  bool uses_dropout;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = [] {
    std::vector<Entry> e;
    const auto cifar = [&e](std::string name, Factory make, bool uses_dropout = false) {
      e.push_back({std::move(name), std::move(make), 10, kCifarInput, uses_dropout});
    };
    for (const int depth : {8, 20, 32, 44, 56, 110}) {
      cifar("resnet" + std::to_string(depth), [depth](const ModelOptions& o) {
        return std::make_shared<CifarResNet>(depth, o.in_channels, o.num_classes);
      });
    }
    cifar("se_resnet110", [](const ModelOptions& o) {
      return std::make_shared<CifarResNet>(110, o.in_channels, o.num_classes, /*se_reduction=*/16);
    });
    cifar("wrn16_8", [](const ModelOptions& o) {
      return std::make_shared<WideResNet>(16, 8, o.in_channels, o.num_classes, o.dropout);
    }, /*uses_dropout=*/true);
    cifar("wrn28_10", [](const ModelOptions& o) {
      return std::make_shared<WideResNet>(28, 10, o.in_channels, o.num_classes, o.dropout);
    }, /*uses_dropout=*/true);
    cifar("resnext29_8x64d", [](const ModelOptions& o) {
      return std::make_shared<CifarResNeXt>(29, 8, 64, o.in_channels, o.num_classes);
    });
    cifar("densenet_bc100_12", [](const ModelOptions& o) {
      return std::make_shared<DenseNetBC>(100, 12, o.in_channels, o.num_classes);
    });
    cifar("densenet_bc190_40", [](const ModelOptions& o) {
      return std::make_shared<DenseNetBC>(190, 40, o.in_channels, o.num_classes);
    });
    cifar("shake_shake26_2x32d", [](const ModelOptions& o) {
      return std::make_shared<ShakeShakeResNet>(26, 32, o.in_channels, o.num_classes);
    });
    cifar("shake_shake26_2x112d", [](const ModelOptions& o) {
      return std::make_shared<ShakeShakeResNet>(26, 112, o.in_channels, o.num_classes);
    });
    cifar("pyramidnet272_a200", [](const ModelOptions& o) {
      return std::make_shared<PyramidNet>(272, 200, o.in_channels, o.num_classes);
    });
    const auto imagenet = [&e](std::string name, std::vector<int64_t> blocks, int64_t groups, int64_t width) {
      e.push_back({std::move(name),
                   [blocks, groups, width](const ModelOptions& o) {
                     return std::make_shared<ImageNetResNet>(blocks, groups, width, o.in_channels, o.num_classes);
                   },
                   1000, kImageNetInput, false});
    };
    imagenet("resnet50", {3, 4, 6, 3}, 1, 64);
    imagenet("resnet152", {3, 8, 36, 3}, 1, 64);
    imagenet("resnext50_32x4d", {3, 4, 6, 3}, 32, 4);
    // The runner validates specs against the LibTorch-free list: both must name the same networks.
    std::vector<std::string> names;
    for (const auto& entry : e) names.push_back(entry.name);
    if (names != model_names()) throw std::logic_error("models/model_names.cpp does not list the registry's networks");
    return e;
  }();
  return entries;
}

const Entry& find(const std::string& name) {
  for (const auto& entry : registry()) {
    if (entry.name == name) return entry;
  }
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model \"" + name + "\" (known: " + known + ")");
}

}  // namespace

std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options) {
  const auto& entry = find(name);
  if (options.num_classes < 1) throw std::invalid_argument("num_classes must be >= 1");
  if (options.in_channels < 1) throw std::invalid_argument("in_channels must be >= 1");
  if (!(options.dropout >= 0 && options.dropout < 1)) throw std::invalid_argument("dropout must be in [0, 1)");
  if (entry.uses_dropout) return entry.make(options);
  auto model = entry.make(options);
  model->set_feature_dropout(options.dropout);
  return model;
}

ModelInfo describe_model(const std::string& name) {
  const auto& entry = find(name);
  const auto model = entry.make({entry.default_num_classes, entry.input_shape[0], 0.0});
  return {entry.name, parameter_count(*model), model->feature_dim(), entry.default_num_classes, entry.input_shape,
          entry.uses_dropout};
}

const std::vector<ModelInfo>& describe_models() {
  static const std::vector<ModelInfo> infos = [] {
    std::vector<ModelInfo> result;
    for (const auto& entry : registry()) result.push_back(describe_model(entry.name));
    return result;
  }();
  return infos;
}

}  // namespace isda::models
