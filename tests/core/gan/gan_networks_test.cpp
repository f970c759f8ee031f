// Shapes of the DCGAN-style networks for every kind, and the generated-batch mixing arithmetic.
#include "gan/gan_networks.h"
#include "gan/generated_images.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>

namespace isda::gan {
namespace {

TEST(GanNetworks, ShapesForEveryKindAndImageSize) {
  for (const auto kind : {GanKind::kWgan, GanKind::kCgan, GanKind::kAcgan, GanKind::kInfogan}) {
    for (const auto& [channels, size] : {std::pair<int64_t, int64_t>{1, 28}, {3, 32}}) {
      GanShape shape{kind, channels, size, 10, 8};
      Generator g(shape);
      Discriminator d(shape);
      auto rng = at::detail::createCPUGenerator(1);
      const auto labels = torch::tensor({0, 3, 9}, torch::kInt64);
      torch::Tensor codes;
      const auto input = generator_input(shape, labels, rng, torch::kCPU, &codes);
      EXPECT_EQ(input.size(1), generator_input_dim(shape));
      const auto images = g->forward(input);
      ASSERT_EQ(images.sizes(), (std::vector<int64_t>{3, channels, size, size})) << gan_kind_name(kind);
      EXPECT_LE(images.abs().max().item<float>(), 1.0f);
      const auto out = d->forward(images, labels);
      EXPECT_EQ(out.adversarial.sizes(), (std::vector<int64_t>{3}));
      const bool has_classes = kind == GanKind::kAcgan || kind == GanKind::kInfogan;
      EXPECT_EQ(out.class_logits.defined(), has_classes);
      if (has_classes) {
        EXPECT_EQ(out.class_logits.sizes(), (std::vector<int64_t>{3, 10}));
      }
      EXPECT_EQ(out.code_means.defined(), kind == GanKind::kInfogan);
      EXPECT_EQ(codes.defined(), kind == GanKind::kInfogan);
    }
  }
}

TEST(GanNetworks, WeightsStartAsDcgansNormal) {
  torch::manual_seed(3);
  const GanShape shape{GanKind::kInfogan, 3, 32, 10, 16};
  Generator g(shape);
  Discriminator d(shape);
  for (auto* module : std::vector<torch::nn::Module*>{g.get(), d.get()}) {
    for (const auto& p : module->named_parameters()) {
      const auto& name = p.key();
      const auto& value = p.value();
      const bool norm = name.find("norm") != std::string::npos || (value.dim() == 1 && name.find("weight") != std::string::npos);
      if (name.find("bias") != std::string::npos) {
        EXPECT_EQ(value.abs().max().item<float>(), 0.0f) << name;
      } else if (value.numel() >= 1000) {  // enough draws for the moments to be near their values
        EXPECT_NEAR(value.mean().item<double>(), norm ? 1.0 : 0.0, 0.005) << name;
        EXPECT_NEAR(value.std().item<double>(), 0.02, 0.003) << name;
      }
    }
  }
}

TEST(GanNetworks, UnknownKindsAndSizesAreRefused) {
  EXPECT_THROW(parse_gan_kind("biggan"), std::invalid_argument);
  EXPECT_THROW(Generator(GanShape{GanKind::kCgan, 3, 64, 10, 8}), std::invalid_argument);
}

TEST(GanNetworks, WganBankHasOneGeneratorPerClassAndUsesTheLabelsOne) {
  GanShape shape{GanKind::kWgan, 1, 28, 3, 4};
  GeneratorBank bank(shape, torch::kCPU);
  ASSERT_EQ(bank.generators().size(), 3u);
  {  // generator c makes a constant image of value c / 3: its bias, with the conv weights zeroed
    torch::NoGradGuard no_grad;
    for (size_t c = 0; c < 3; ++c) {
      for (auto& p : bank.generators()[c]->named_parameters()) {
        if (p.key().find("up.3.bias") != std::string::npos) p.value().fill_(std::atanh(static_cast<double>(c) / 3));
        else if (p.key().find("up.3.weight") != std::string::npos) p.value().zero_();
      }
    }
  }
  auto rng = at::detail::createCPUGenerator(7);
  const auto images = bank.sample(torch::tensor({2, 0, 1, 2}, torch::kInt64), rng);
  const std::vector<double> expected = {2.0 / 3, 0, 1.0 / 3, 2.0 / 3};
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(images[i].mean().item<double>(), expected[static_cast<size_t>(i)], 1e-5);
}

TEST(GanNetworks, ToUint8MapsTanhRangeOntoPixels) {
  const auto pixels = to_uint8(torch::tensor({-1.0f, 0.0f, 1.0f, 1.5f}));
  EXPECT_TRUE(torch::equal(pixels, torch::tensor({0, 128, 255, 255}, torch::kUInt8)));
}

}  // namespace
}  // namespace isda::gan
