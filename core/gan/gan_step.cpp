#include "gan/gan_step.h"

#include "gan/gan_losses.h"

#include <limits>

namespace isda::gan {

GanRecipe recipe_of(GanKind kind) {
  GanRecipe r;
  switch (kind) {
    case GanKind::kWgan:  // Arjovsky et al. 2017, Algorithm 1: RMSprop 5e-5, n_critic 5, c = 0.01, fresh noise for G
      r.adam = false;
      r.lr = 5e-5;
      r.n_critic = 5;
      r.clip = 0.01;
      r.fresh_generator_noise = true;
      break;
    case GanKind::kCgan:
    case GanKind::kAcgan:
      break;  // DCGAN's Adam: lr 2e-4, betas (0.5, 0.999)
    case GanKind::kInfogan:  // Chen et al. 2016: lambda 1 for the categorical code, 0.1 for continuous ones
      r.lambda_categorical = 1;
      r.lambda_continuous = 0.1;
      r.lambda_supervised = 1;  // Spurr et al. 2017's semi-supervised infoGAN, every real image labelled
      break;
  }
  return r;
}

double gan_step(GanPair& pair, const GanShape& shape, const GanRecipe& recipe, const StepBatch& batch,
                bool generator_step, const DrawInput& draw) {
  auto& generator = pair.generator;
  auto& discriminator = pair.discriminator;
  generator->train();
  discriminator->train();
  const auto device = batch.real.device();
  const auto real_labels = batch.real_labels.to(device);
  const auto fake_labels = batch.fake_labels.to(device);
  torch::Tensor codes;
  auto fake = generator->forward(draw(batch.fake_labels, &codes));

  // Discriminator (critic).
  pair.discriminator_optimizer->zero_grad();
  const auto d_real = discriminator->forward(batch.real, real_labels);
  const auto d_fake = discriminator->forward(fake.detach(), fake_labels);
  torch::Tensor d_loss;
  switch (shape.kind) {
    case GanKind::kWgan:
      d_loss = critic_loss(d_real.adversarial, d_fake.adversarial);
      break;
    case GanKind::kCgan:
      d_loss = discriminator_loss(d_real.adversarial, d_fake.adversarial);
      break;
    case GanKind::kAcgan:
      d_loss = discriminator_loss(d_real.adversarial, d_fake.adversarial) +
               auxiliary_class_loss(d_real.class_logits, real_labels, d_fake.class_logits, fake_labels);
      break;
    case GanKind::kInfogan:
      // Q (sharing the discriminator's body) maximises the mutual-information bound on the generated
      // images as in Chen et al., and learns the real images' classes, which ties code c to class c.
      d_loss = discriminator_loss(d_real.adversarial, d_fake.adversarial) +
               mutual_information_loss(d_fake.class_logits, fake_labels, d_fake.code_means, codes,
                                       recipe.lambda_categorical, recipe.lambda_continuous) +
               recipe.lambda_supervised * torch::nn::functional::cross_entropy(d_real.class_logits, real_labels);
      break;
  }
  d_loss.backward();
  pair.discriminator_optimizer->step();
  if (recipe.clip > 0) clip_weights(*discriminator, recipe.clip);
  if (!generator_step) return std::numeric_limits<double>::quiet_NaN();

  // Generator.
  if (recipe.fresh_generator_noise) fake = generator->forward(draw(batch.fake_labels, &codes));
  pair.generator_optimizer->zero_grad();
  const auto out = discriminator->forward(fake, fake_labels);
  torch::Tensor g_loss;
  switch (shape.kind) {
    case GanKind::kWgan:
      g_loss = wasserstein_generator_loss(out.adversarial);
      break;
    case GanKind::kCgan:
      g_loss = generator_loss(out.adversarial);
      break;
    case GanKind::kAcgan:
      g_loss = generator_loss(out.adversarial) + torch::nn::functional::cross_entropy(out.class_logits, fake_labels);
      break;
    case GanKind::kInfogan:
      g_loss = generator_loss(out.adversarial) +
               mutual_information_loss(out.class_logits, fake_labels, out.code_means, codes,
                                       recipe.lambda_categorical, recipe.lambda_continuous);
      break;
  }
  g_loss.backward();
  pair.generator_optimizer->step();
  return g_loss.item<double>();
}

}  // namespace isda::gan
