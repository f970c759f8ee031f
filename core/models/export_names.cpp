#include "models/export_names.h"

#include "models/cifar_resnet.h"
#include "models/imagenet_resnet.h"

#include <torch/torch.h>

#include <set>
#include <stdexcept>

namespace isda::models {
namespace {

constexpr char kStages[] = "stages.";

// `stages.K.rest` -> `layer{s+1}.{b}.rest`, K counting the blocks across the stages of
// `stage_blocks`, with `rename_from` -> `rename_to` applied to rest's first component.
std::string layer_name(const std::string& suite_name, const std::vector<int64_t>& stage_blocks,
                       const std::string& rename_from, const std::string& rename_to) {
  const auto dot = suite_name.find('.', sizeof kStages - 1);
  if (dot == std::string::npos) throw std::logic_error("export: unexpected tensor name " + suite_name);
  int64_t block = std::stoll(suite_name.substr(sizeof kStages - 1, dot - (sizeof kStages - 1)));
  auto rest = suite_name.substr(dot + 1);
  if (!rename_from.empty() && rest.rfind(rename_from + ".", 0) == 0) rest = rename_to + rest.substr(rename_from.size());
  for (size_t stage = 0; stage < stage_blocks.size(); ++stage) {
    if (block < stage_blocks[stage]) return "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + "." + rest;
    block -= stage_blocks[stage];
  }
  throw std::logic_error("export: " + suite_name + " lies beyond the network's stages");
}

// The exported name of the tensor `suite_name` of a network exported with `naming`; its stages
// have `stage_blocks` blocks each.
std::string exported_name(const std::string& suite_name, ExportNaming naming, const std::vector<int64_t>& stage_blocks) {
  if (naming == ExportNaming::kSuite || suite_name.rfind(kStages, 0) != 0) return suite_name;  // conv1, bn1, fc
  if (naming == ExportNaming::kAuthorsCifarResNet) return layer_name(suite_name, stage_blocks, "shortcut", "downsample");
  return layer_name(suite_name, stage_blocks, "", "");
}

}  // namespace

const char* export_naming_name(ExportNaming naming) {
  switch (naming) {
    case ExportNaming::kAuthorsCifarResNet:
      return "isda-authors-resnet-cifar";
    case ExportNaming::kTorchvision:
      return "torchvision";
    case ExportNaming::kSuite:
      break;
  }
  return "isda-suite";
}

ExportNaming export_naming_of(const Classifier& model) {
  if (const auto* cifar = dynamic_cast<const CifarResNet*>(&model)) {
    // The SE-ResNet's squeeze-and-excitation layers have no counterpart in the authors' resnet.py.
    return cifar->se_reduction() == 0 ? ExportNaming::kAuthorsCifarResNet : ExportNaming::kSuite;
  }
  if (dynamic_cast<const ImageNetResNet*>(&model) != nullptr) return ExportNaming::kTorchvision;
  return ExportNaming::kSuite;
}

std::vector<ExportedTensor> exported_tensors(Classifier& model) {
  const auto naming = export_naming_of(model);
  std::vector<int64_t> stage_blocks;
  if (const auto* cifar = dynamic_cast<const CifarResNet*>(&model)) {
    stage_blocks.assign(3, cifar->blocks_per_stage());
  } else if (const auto* imagenet = dynamic_cast<const ImageNetResNet*>(&model)) {
    stage_blocks = imagenet->stage_blocks();
  }
  std::vector<ExportedTensor> tensors;
  std::set<std::string> names;
  const auto add = [&](const std::string& prefix, const std::string& key, const torch::Tensor& value) {
    const auto suite_name = prefix.empty() ? key : prefix + "." + key;
    auto name = exported_name(suite_name, naming, stage_blocks);
    if (!names.insert(name).second) throw std::logic_error("export: two tensors named " + name);
    tensors.push_back({std::move(name), suite_name, value});
  };
  // PyTorch's state_dict order: a module's parameters, its buffers, then its children's, in order.
  for (const auto& module : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    for (const auto& p : module.value()->named_parameters(/*recurse=*/false)) add(module.key(), p.key(), p.value());
    for (const auto& b : module.value()->named_buffers(/*recurse=*/false)) add(module.key(), b.key(), b.value());
  }
  if (tensors.size() != model.named_parameters().size() + model.named_buffers().size()) {
    throw std::logic_error("export: the module walk missed some of the network's tensors");
  }
  return tensors;
}

}  // namespace isda::models
