#pragma once
// The names under which a network's parameters and buffers leave the suite (`isda-train --export`):
// those of the reference definition where one exists, so that PyTorch code written for it loads the
// weights with load_state_dict(strict=True), and the suite's own names elsewhere.
//
//   resnet8 ... resnet110 (CifarResNet without SE): the ISDA authors' CIFAR `resnet.py`
//     (ResNet_Cifar of BasicBlocks, its final layer `fc` kept beside it as in their train.py):
//       conv1, bn1                      <- conv1, bn1
//       layer{s+1}.{b}.conv1 ... bn2    <- stages.K.conv1 ... bn2   (K = s n + b, n blocks a stage)
//       layer{s+1}.0.downsample.0 / .1  <- stages.K.shortcut.0 / .1 (the 1x1 conv + BN projection)
//       fc                              <- fc
//   resnet50, resnet152, resnext50_32x4d (ImageNetResNet): torchvision's ResNet, with the same
//     rule over its four stages (stages.K -> layer{s+1}.{b}; downsample keeps its name).
//   every other network: the names its modules were registered under.
// The final linear layer (Classifier::head(), the W and b of the ISDA loss) is `fc` in every case.
// BatchNorm layers carry weight, bias, running_mean, running_var and num_batches_tracked, as
// torch.nn.BatchNorm2d does.

#include "models/classifier.h"

#include <string>
#include <vector>

namespace isda::models {

enum class ExportNaming { kSuite, kAuthorsCifarResNet, kTorchvision };

// "isda-suite", "isda-authors-resnet-cifar", "torchvision": how the export's description names it.
const char* export_naming_name(ExportNaming naming);

// Which names `model` is exported under, by its architecture (see above).
ExportNaming export_naming_of(const Classifier& model);

// One tensor of an export: its name there, its name in the suite, and the model's own tensor (not
// a copy).
struct ExportedTensor {
  std::string name;
  std::string suite_name;
  torch::Tensor value;
};

// Every parameter and buffer of `model` under its exported name, in the order PyTorch's
// state_dict() lists the reference definition's (module by module in pre-order, each module's
// parameters then its buffers). Throws std::logic_error for a tensor without a mapping or two
// tensors mapped to one name: a network changed without its mapping, never the user's input.
std::vector<ExportedTensor> exported_tensors(Classifier& model);

}  // namespace isda::models
