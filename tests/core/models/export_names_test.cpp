// The names a network is exported under (models/export_names.h): every parameter and buffer once,
// under the reference definition's name (the ISDA authors' resnet.py for the CIFAR ResNets,
// torchvision for the ImageNet ones), in PyTorch's state_dict order. tests/python/export_check.py
// loads the written files into the reference definitions themselves.
#include "models/export_names.h"

#include "models/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace isda::models {
namespace {

using ::testing::ElementsAreArray;

std::vector<std::string> names_of(const std::vector<ExportedTensor>& tensors) {
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.name);
  return names;
}

std::map<std::string, std::vector<int64_t>> shapes_of(const std::vector<ExportedTensor>& tensors) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : tensors) shapes[t.name] = t.value.sizes().vec();
  return shapes;
}

void add_batch_norm(std::vector<std::string>& names, const std::string& prefix) {
  for (const char* key : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
    names.push_back(prefix + "." + key);
  }
}

// The state_dict keys of the authors' ResNet_Cifar (BasicBlock, `blocks` a stage) with their
// final layer `fc`, written from their resnet.py's structure: _make_layer adds a downsample
// (1x1 conv, BN) to a stage's first block where the stride or the width changes.
std::vector<std::string> authors_cifar_resnet_names(int64_t blocks) {
  std::vector<std::string> names = {"conv1.weight"};
  add_batch_norm(names, "bn1");
  int64_t inplanes = 16;
  for (int64_t stage = 0; stage < 3; ++stage) {
    const int64_t planes = int64_t{16} << stage;
    for (int64_t b = 0; b < blocks; ++b) {
      const auto block = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      names.push_back(block + ".conv1.weight");
      add_batch_norm(names, block + ".bn1");
      names.push_back(block + ".conv2.weight");
      add_batch_norm(names, block + ".bn2");
      if (b == 0 && (stage > 0 || inplanes != planes)) {
        names.push_back(block + ".downsample.0.weight");
        add_batch_norm(names, block + ".downsample.1");
      }
      inplanes = planes;
    }
  }
  names.push_back("fc.weight");
  names.push_back("fc.bias");
  return names;
}

// torchvision's ResNet (Bottleneck) state_dict keys for `stage_blocks`.
std::vector<std::string> torchvision_resnet_names(const std::vector<int64_t>& stage_blocks) {
  std::vector<std::string> names = {"conv1.weight"};
  add_batch_norm(names, "bn1");
  for (size_t stage = 0; stage < stage_blocks.size(); ++stage) {
    for (int64_t b = 0; b < stage_blocks[stage]; ++b) {
      const auto block = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      for (const char* layer : {"1", "2", "3"}) {
        names.push_back(block + ".conv" + layer + ".weight");
        add_batch_norm(names, block + ".bn" + layer);
      }
      if (b == 0) {  // every first block widens (64 -> 256) or strides
        names.push_back(block + ".downsample.0.weight");
        add_batch_norm(names, block + ".downsample.1");
      }
    }
  }
  names.push_back("fc.weight");
  names.push_back("fc.bias");
  return names;
}

// Every parameter and buffer of `model` appears once, as the very tensor the model holds.
void expect_each_tensor_once(Classifier& model, const std::vector<ExportedTensor>& tensors) {
  std::map<std::string, torch::Tensor> own;
  for (const auto& p : model.named_parameters()) own[p.key()] = p.value();
  for (const auto& b : model.named_buffers()) own[b.key()] = b.value();
  ASSERT_EQ(tensors.size(), own.size());
  std::set<std::string> suite_names, names;
  for (const auto& t : tensors) {
    EXPECT_TRUE(suite_names.insert(t.suite_name).second) << t.suite_name << " exported twice";
    EXPECT_TRUE(names.insert(t.name).second) << t.name << " used twice";
    ASSERT_EQ(own.count(t.suite_name), 1u) << t.suite_name;
    EXPECT_TRUE(t.value.is_same(own.at(t.suite_name))) << t.suite_name;
  }
}

TEST(ExportNames, ResNet32TakesTheAuthorsNamesWithItsHeadAsFc) {
  auto model = make_model("resnet32", {10, 3});
  EXPECT_EQ(export_naming_of(*model), ExportNaming::kAuthorsCifarResNet);
  const auto tensors = exported_tensors(*model);
  expect_each_tensor_once(*model, tensors);
  EXPECT_THAT(names_of(tensors), ElementsAreArray(authors_cifar_resnet_names(5)));
  EXPECT_EQ(tensors.size(), 200u);  // what the authors' definition plus fc.weight and fc.bias hold

  // A few layers spelt out: the stem, the first block, the second stage's first block (with its
  // projection shortcut), the last block and the head.
  std::map<std::string, std::string> suite_name_of;
  for (const auto& t : tensors) suite_name_of[t.name] = t.suite_name;
  const std::map<std::string, std::string> expected = {
      {"conv1.weight", "conv1.weight"},
      {"bn1.running_var", "bn1.running_var"},
      {"layer1.0.conv1.weight", "stages.0.conv1.weight"},
      {"layer1.4.bn2.num_batches_tracked", "stages.4.bn2.num_batches_tracked"},
      {"layer2.0.conv1.weight", "stages.5.conv1.weight"},
      {"layer2.0.downsample.0.weight", "stages.5.shortcut.0.weight"},
      {"layer2.0.downsample.1.running_mean", "stages.5.shortcut.1.running_mean"},
      {"layer3.0.downsample.1.bias", "stages.10.shortcut.1.bias"},
      {"layer3.4.bn2.weight", "stages.14.bn2.weight"},
      {"fc.weight", "fc.weight"},
      {"fc.bias", "fc.bias"},
  };
  for (const auto& [name, suite_name] : expected) EXPECT_EQ(suite_name_of[name], suite_name) << name;
  const auto shapes = shapes_of(tensors);
  EXPECT_EQ(shapes.at("layer2.0.downsample.0.weight"), (std::vector<int64_t>{32, 16, 1, 1}));
  EXPECT_EQ(shapes.at("layer3.4.conv2.weight"), (std::vector<int64_t>{64, 64, 3, 3}));
  EXPECT_EQ(shapes.at("bn1.num_batches_tracked"), (std::vector<int64_t>{}));
  EXPECT_EQ(shapes.at("fc.weight"), (std::vector<int64_t>{10, 64}));
  EXPECT_TRUE(tensors.back().value.is_same(model->head()->bias));  // ISDA's W and b are fc
  EXPECT_TRUE(tensors[tensors.size() - 2].value.is_same(model->head()->weight));
}

TEST(ExportNames, EveryCifarResNetDepthMapsOntoTheAuthorsLayers) {
  for (const int64_t depth : {8, 20, 110}) {
    SCOPED_TRACE(depth);
    auto model = make_model("resnet" + std::to_string(depth), {100, 1});  // Fashion-MNIST's one channel too
    const auto tensors = exported_tensors(*model);
    expect_each_tensor_once(*model, tensors);
    EXPECT_THAT(names_of(tensors), ElementsAreArray(authors_cifar_resnet_names((depth - 2) / 6)));
  }
}

TEST(ExportNames, ResNet50TakesTorchvisionsNames) {
  auto model = make_model("resnet50", {1000, 3});
  EXPECT_EQ(export_naming_of(*model), ExportNaming::kTorchvision);
  const auto tensors = exported_tensors(*model);
  expect_each_tensor_once(*model, tensors);
  EXPECT_THAT(names_of(tensors), ElementsAreArray(torchvision_resnet_names({3, 4, 6, 3})));
  EXPECT_EQ(tensors.size(), 320u);  // torchvision.models.resnet50().state_dict() holds 320

  const std::vector<std::string> second_stage_first_block = {
      "layer2.0.conv1.weight",         "layer2.0.bn1.weight",           "layer2.0.bn1.bias",
      "layer2.0.bn1.running_mean",     "layer2.0.bn1.running_var",      "layer2.0.bn1.num_batches_tracked",
      "layer2.0.conv2.weight",         "layer2.0.bn2.weight",           "layer2.0.bn2.bias",
      "layer2.0.bn2.running_mean",     "layer2.0.bn2.running_var",      "layer2.0.bn2.num_batches_tracked",
      "layer2.0.conv3.weight",         "layer2.0.bn3.weight",           "layer2.0.bn3.bias",
      "layer2.0.bn3.running_mean",     "layer2.0.bn3.running_var",      "layer2.0.bn3.num_batches_tracked",
      "layer2.0.downsample.0.weight",  "layer2.0.downsample.1.weight",  "layer2.0.downsample.1.bias",
      "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
      "layer2.0.downsample.1.num_batches_tracked"};
  std::vector<std::string> found;
  for (const auto& t : tensors) {
    if (t.name.rfind("layer2.0.", 0) == 0) {
      found.push_back(t.name);
      EXPECT_EQ(t.suite_name, "stages.3." + t.name.substr(9));  // the 4th block overall: after layer1's 3
    }
  }
  EXPECT_THAT(found, ElementsAreArray(second_stage_first_block));
  const auto shapes = shapes_of(tensors);  // as torchvision's
  EXPECT_EQ(shapes.at("layer1.0.downsample.0.weight"), (std::vector<int64_t>{256, 64, 1, 1}));
  EXPECT_EQ(shapes.at("layer2.0.conv1.weight"), (std::vector<int64_t>{128, 256, 1, 1}));
  EXPECT_EQ(shapes.at("layer4.2.conv2.weight"), (std::vector<int64_t>{512, 512, 3, 3}));
  EXPECT_EQ(shapes.at("fc.weight"), (std::vector<int64_t>{1000, 2048}));
}

TEST(ExportNames, ResNeXt50TakesTorchvisionsNames) {
  auto model = make_model("resnext50_32x4d", {1000, 3});
  const auto tensors = exported_tensors(*model);
  expect_each_tensor_once(*model, tensors);
  EXPECT_THAT(names_of(tensors), ElementsAreArray(torchvision_resnet_names({3, 4, 6, 3})));
  EXPECT_EQ(shapes_of(tensors).at("layer1.0.conv2.weight"), (std::vector<int64_t>{128, 4, 3, 3}));  // 32 groups
}

TEST(ExportNames, OtherNetworksKeepTheSuitesNames) {
  for (const std::string name : {"se_resnet110", "densenet_bc100_12"}) {
    SCOPED_TRACE(name);
    auto model = make_model(name, {10, 3});
    EXPECT_EQ(export_naming_of(*model), ExportNaming::kSuite);
    const auto tensors = exported_tensors(*model);
    expect_each_tensor_once(*model, tensors);
    for (const auto& t : tensors) EXPECT_EQ(t.name, t.suite_name);
    EXPECT_EQ(tensors.back().name, "fc.bias");
  }
  EXPECT_STREQ(export_naming_name(ExportNaming::kSuite), "isda-suite");
  EXPECT_STREQ(export_naming_name(ExportNaming::kTorchvision), "torchvision");
  EXPECT_STREQ(export_naming_name(ExportNaming::kAuthorsCifarResNet), "isda-authors-resnet-cifar");
}

}  // namespace
}  // namespace isda::models
