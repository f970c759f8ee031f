// One training step of each kind: which noise the generator step uses (WGAN draws its own, as
// Arjovsky et al.'s Algorithm 1; the DCGAN-style kinds reuse the discriminator step's images), and
// that a step updates what it should.
#include "gan/gan_step.h"

#include "gan/generated_images.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

namespace isda::gan {
namespace {

struct Fixture {
  explicit Fixture(GanKind kind) : shape{kind, 1, 28, 10, 4}, recipe(recipe_of(kind)) {
    torch::manual_seed(1);
    pair.generator = Generator(shape);
    pair.discriminator = Discriminator(shape);
    g_optimizer = std::make_unique<torch::optim::Adam>(pair.generator->parameters(), torch::optim::AdamOptions(1e-3));
    d_optimizer = std::make_unique<torch::optim::Adam>(pair.discriminator->parameters(), torch::optim::AdamOptions(1e-3));
    pair.generator_optimizer = g_optimizer.get();
    pair.discriminator_optimizer = d_optimizer.get();
    batch.real = torch::rand({8, 1, 28, 28}) * 2 - 1;
    batch.real_labels = torch::arange(8, torch::kInt64);
    batch.fake_labels = kind == GanKind::kWgan ? torch::full({8}, 3, torch::kInt64) : torch::arange(8, torch::kInt64).flip(0);
  }

  // Runs one step with a generator step, recording every input drawn.
  double step(bool generator_step = true) {
    auto rng = at::detail::createCPUGenerator(7);
    const DrawInput draw = [&](const torch::Tensor& labels, torch::Tensor* codes) {
      EXPECT_TRUE(labels.equal(batch.fake_labels));
      torch::Tensor c;
      auto input = generator_input(shape, labels, rng, torch::kCPU, &c);
      if (codes != nullptr) *codes = c;
      drawn.push_back(input);
      return input;
    };
    return gan_step(pair, shape, recipe, batch, generator_step, draw);
  }

  GanShape shape;
  GanRecipe recipe;
  GanPair pair;
  std::unique_ptr<torch::optim::Optimizer> g_optimizer, d_optimizer;
  StepBatch batch;
  std::vector<torch::Tensor> drawn;
};

TEST(GanStep, TheWganGeneratorStepDrawsFreshNoise) {
  Fixture wgan(GanKind::kWgan);
  EXPECT_TRUE(std::isfinite(wgan.step()));
  ASSERT_EQ(wgan.drawn.size(), 2u) << "one draw for the critic step, one for the generator step";
  EXPECT_FALSE(wgan.drawn[0].equal(wgan.drawn[1]));

  Fixture critic_only(GanKind::kWgan);
  EXPECT_TRUE(std::isnan(critic_only.step(/*generator_step=*/false)));
  EXPECT_EQ(critic_only.drawn.size(), 1u);
}

TEST(GanStep, TheDcganStyleKindsReuseTheDiscriminatorStepsImages) {
  for (const auto kind : {GanKind::kCgan, GanKind::kAcgan, GanKind::kInfogan}) {
    Fixture f(kind);
    EXPECT_TRUE(std::isfinite(f.step())) << gan_kind_name(kind);
    EXPECT_EQ(f.drawn.size(), 1u) << gan_kind_name(kind);
  }
}

// The semi-supervised infoGAN: Q (on the discriminator's body) learns the real images' labels, so
// its categorical code is tied to the class; a discriminator step moves Q's class head.
TEST(GanStep, InfoganTrainsItsCodeHeadOnTheRealImagesLabels) {
  Fixture f(GanKind::kInfogan);
  // Real images that show their label: one bright pixel at row 2 * label.
  f.batch.real = -torch::ones({8, 1, 28, 28});
  for (int64_t i = 0; i < 8; ++i) f.batch.real.index_put_({i, 0, 2 * i, 5}, 1.0);
  const auto q_loss = [&] {
    torch::NoGradGuard no_grad;
    f.pair.discriminator->train();  // the batch's statistics, as in training
    return torch::nn::functional::cross_entropy(f.pair.discriminator->forward(f.batch.real).class_logits, f.batch.real_labels)
        .item<double>();
  };
  const double before = q_loss();
  for (int i = 0; i < 30; ++i) f.step();
  EXPECT_LT(q_loss(), 0.5 * before) << "Q learns to read the real images' classes";
}

}  // namespace
}  // namespace isda::gan
