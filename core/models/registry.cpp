#include "models/registry.h"

#include "models/cifar_resnet.h"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

namespace isda::models {
namespace {

using Factory = std::function<std::shared_ptr<Classifier>(const ModelOptions&)>;

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = [] {
    std::map<std::string, Factory> m;
    for (const int depth : {8, 20, 32, 44, 56, 110}) {
      m["resnet" + std::to_string(depth)] = [depth](const ModelOptions& o) {
        return std::make_shared<CifarResNet>(depth, o.in_channels, o.num_classes);
      };
    }
    return m;
  }();
  return factories;
}

}  // namespace

std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options) {
  const auto& factories = registry();
  const auto it = factories.find(name);
  if (it == factories.end()) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown model \"" + name + "\" (known: " + known + ")");
  }
  return it->second(options);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  // Sort by depth rather than lexically so resnet8 comes before resnet110.
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return names;
}

}  // namespace isda::models
