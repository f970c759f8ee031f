#pragma once
// DCGAN-style generator and discriminator (Radford et al. 2016) for 28x28 and 32x32 images with 1 or
// 3 channels, with the inputs and heads each GAN of the paper's Table 3 needs (core/gan/README.md).
//
//   Generator: input (N, D) -> Linear -> (4w, 4, 4) [32x32] or (2w, 7, 7) [28x28], BatchNorm, ReLU ->
//              ConvTranspose 4x4 stride 2 (halving the channels, BatchNorm, ReLU) up to size / 2 ->
//              ConvTranspose 4x4 stride 2 to C channels -> tanh: images in [-1, 1].
//   Discriminator: [CGAN: the one-hot label as constant planes beside the image's channels] Conv 4x4
//              stride 2 to w, LeakyReLU 0.2 -> Conv 4x4 stride 2 doubling, BatchNorm,
//              LeakyReLU 0.2 down to 4x4 [32] or 7x7 [28] -> flattened features F, then the heads:
//              adversarial logit Linear(F, 1); ACGAN's class
//              logits Linear(F, classes); infoGAN's Q: categorical logits Linear(F, classes) and the
//              means of the continuous codes Linear(F, continuous) (unit variance).
//   Both are initialised as DCGAN's: convolution and linear weights ~ N(0, 0.02), BatchNorm scales
//   ~ N(1, 0.02), biases 0, drawn from torch's default generator (seeded by the run).

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace isda::gan {

enum class GanKind { kWgan, kCgan, kAcgan, kInfogan };
// "wgan", "cgan", "acgan", "infogan"; std::invalid_argument naming the known kinds otherwise.
GanKind parse_gan_kind(const std::string& name);
std::string gan_kind_name(GanKind kind);

inline constexpr int64_t kNoiseDim = 100;        // z ~ N(0, I) (DCGAN)
inline constexpr int64_t kContinuousCodes = 2;   // infoGAN's continuous codes ~ U(-1, 1)

// What the networks of one generator are shaped for.
struct GanShape {
  GanKind kind = GanKind::kCgan;
  int64_t channels = 3;  // 1 or 3
  int64_t size = 32;     // 28 or 32
  int64_t classes = 10;
  int64_t width = 64;    // w above
};

// The generator's input width: noise, plus the one-hot label (CGAN, ACGAN) or the categorical and
// continuous codes (infoGAN); WGAN's generators (one per class) take noise only.
int64_t generator_input_dim(const GanShape& shape);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GanShape& shape);
  // (N, generator_input_dim) -> (N, channels, size, size) in [-1, 1].
  torch::Tensor forward(const torch::Tensor& input);

 private:
  int64_t start_channels_, start_size_;
  torch::nn::Linear project_{nullptr};
  torch::nn::BatchNorm1d project_norm_{nullptr};
  torch::nn::Sequential up_{nullptr};
};
TORCH_MODULE(Generator);

struct DiscriminatorOutput {
  torch::Tensor adversarial;  // (N) logit (WGAN: the critic's score)
  torch::Tensor class_logits;  // ACGAN: (N, classes); infoGAN: Q's categorical logits; else undefined
  torch::Tensor code_means;    // infoGAN: (N, kContinuousCodes); else undefined
};

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const GanShape& shape);
  // `labels` (N) int64 are read by CGAN only (its one-hot planes join the image's channels).
  DiscriminatorOutput forward(const torch::Tensor& images, const torch::Tensor& labels = {});

 private:
  GanShape shape_;
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear adversarial_{nullptr}, classes_{nullptr}, codes_{nullptr};
};
TORCH_MODULE(Discriminator);

}  // namespace isda::gan
