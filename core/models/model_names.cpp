#include "models/model_names.h"

#include <map>

namespace isda::models {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {
      "resnet8",           "resnet20",          "resnet32",          "resnet44",           "resnet56",
      "resnet110",         "se_resnet110",      "wrn16_8",           "wrn28_10",           "resnext29_8x64d",
      "densenet_bc100_12", "densenet_bc190_40", "shake_shake26_2x32d", "shake_shake26_2x112d", "pyramidnet272_a200",
      "resnet50",          "resnet152",         "resnext50_32x4d"};
  return names;
}

int64_t model_feature_dim(const std::string& name) {
  static const std::map<std::string, int64_t> dims = {
      {"resnet8", 64},           {"resnet20", 64},          {"resnet32", 64},
      {"resnet44", 64},          {"resnet56", 64},          {"resnet110", 64},
      {"se_resnet110", 64},      {"wrn16_8", 512},          {"wrn28_10", 640},
      {"resnext29_8x64d", 1024}, {"densenet_bc100_12", 342}, {"densenet_bc190_40", 2190},
      {"shake_shake26_2x32d", 128}, {"shake_shake26_2x112d", 448}, {"pyramidnet272_a200", 864},
      {"resnet50", 2048},        {"resnet152", 2048},       {"resnext50_32x4d", 2048}};
  const auto found = dims.find(name);
  return found == dims.end() ? 0 : found->second;
}

}  // namespace isda::models
