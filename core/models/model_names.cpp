#include "models/model_names.h"

namespace isda::models {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {
      "resnet8",           "resnet20",          "resnet32",          "resnet44",           "resnet56",
      "resnet110",         "se_resnet110",      "wrn16_8",           "wrn28_10",           "resnext29_8x64d",
      "densenet_bc100_12", "densenet_bc190_40", "shake_shake26_2x32d", "shake_shake26_2x112d", "pyramidnet272_a200",
      "resnet50",          "resnet152",         "resnext50_32x4d"};
  return names;
}

}  // namespace isda::models
