#include "gan/gan_networks.h"

#include "train/config_names.h"

#include <stdexcept>

namespace isda::gan {
namespace {

namespace nn = torch::nn;

// 32x32 starts at 4x4 (three upsamplings, as DCGAN); 28x28 at 7x7 (two, as infoGAN's MNIST networks).
int64_t start_size(const GanShape& shape) {
  if (shape.size == 32) return 4;
  if (shape.size == 28) return 7;
  throw std::invalid_argument("gan: images must be 28x28 or 32x32, got " + std::to_string(shape.size));
}

int64_t upsamplings(const GanShape& shape) { return shape.size == 32 ? 3 : 2; }

// DCGAN's initialisation (Radford et al. 2016, section 4): weights ~ N(0, 0.02); BatchNorm's scale
// ~ N(1, 0.02) as its reference code; biases 0.
void initialise_dcgan(nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (const auto& m : module.modules(/*include_self=*/false)) {
    const bool weighted = m->as<nn::Conv2dImpl>() || m->as<nn::ConvTranspose2dImpl>() || m->as<nn::LinearImpl>();
    const bool norm = m->as<nn::BatchNorm1dImpl>() || m->as<nn::BatchNorm2dImpl>();
    if (!weighted && !norm) continue;
    for (auto& p : m->named_parameters(/*recurse=*/false)) {
      if (p.key() == "weight") p.value().normal_(norm ? 1.0 : 0.0, 0.02);
      if (p.key() == "bias") p.value().zero_();
    }
  }
}

}  // namespace

static_assert(static_cast<size_t>(GanKind::kInfogan) + 1 == train::names::kGans.size(),
              "GanKind lists the names of train/config_names.h in their order");

GanKind parse_gan_kind(const std::string& name) { return train::names::parse_named<GanKind>(train::names::kGans, name, "GAN"); }

std::string gan_kind_name(GanKind kind) { return train::names::name_of(train::names::kGans, kind); }

int64_t generator_input_dim(const GanShape& shape) {
  switch (shape.kind) {
    case GanKind::kWgan: return kNoiseDim;
    case GanKind::kCgan:
    case GanKind::kAcgan: return kNoiseDim + shape.classes;
    case GanKind::kInfogan: return kNoiseDim + shape.classes + kContinuousCodes;
  }
  return kNoiseDim;
}

GeneratorImpl::GeneratorImpl(const GanShape& shape) {
  const int64_t ups = upsamplings(shape);
  start_size_ = start_size(shape);
  start_channels_ = shape.width << (ups - 1);  // 4w for 32x32, 2w for 28x28
  project_ = register_module("project", nn::Linear(nn::LinearOptions(generator_input_dim(shape),
                                                                     start_channels_ * start_size_ * start_size_).bias(false)));
  project_norm_ = register_module("project_norm", nn::BatchNorm1d(start_channels_ * start_size_ * start_size_));
  up_ = nn::Sequential();
  int64_t channels = start_channels_;
  for (int64_t i = 0; i + 1 < ups; ++i) {
    up_->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, channels / 2, 4).stride(2).padding(1).bias(false)));
    up_->push_back(nn::BatchNorm2d(channels / 2));
    up_->push_back(nn::ReLU());
    channels /= 2;
  }
  up_->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, shape.channels, 4).stride(2).padding(1)));
  up_->push_back(nn::Tanh());
  register_module("up", up_);
  initialise_dcgan(*this);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& input) {
  auto x = torch::relu(project_norm_->forward(project_->forward(input)));
  return up_->forward(x.view({-1, start_channels_, start_size_, start_size_}));
}

DiscriminatorImpl::DiscriminatorImpl(const GanShape& shape) : shape_(shape) {
  const int64_t ups = upsamplings(shape);
  const int64_t side = start_size(shape);
  body_ = nn::Sequential();
  // CGAN: the one-hot label enters as `classes` constant planes beside the image's channels, so that
  // every layer can condition on it (a label joined only at the logit could add a bias per class).
  const int64_t label_planes = shape.kind == GanKind::kCgan ? shape.classes : 0;
  body_->push_back(nn::Conv2d(nn::Conv2dOptions(shape.channels + label_planes, shape.width, 4).stride(2).padding(1)));
  body_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  int64_t channels = shape.width;
  for (int64_t i = 0; i + 1 < ups; ++i) {
    body_->push_back(nn::Conv2d(nn::Conv2dOptions(channels, channels * 2, 4).stride(2).padding(1).bias(false)));
    body_->push_back(nn::BatchNorm2d(channels * 2));
    body_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    channels *= 2;
  }
  body_->push_back(nn::Flatten());
  register_module("body", body_);
  const int64_t features = channels * side * side;
  adversarial_ = register_module("adversarial", nn::Linear(features, 1));
  if (shape.kind == GanKind::kAcgan || shape.kind == GanKind::kInfogan) {
    classes_ = register_module("classes", nn::Linear(features, shape.classes));
  }
  if (shape.kind == GanKind::kInfogan) codes_ = register_module("codes", nn::Linear(features, kContinuousCodes));
  initialise_dcgan(*this);
}

DiscriminatorOutput DiscriminatorImpl::forward(const torch::Tensor& images, const torch::Tensor& labels) {
  torch::Tensor input = images;
  if (shape_.kind == GanKind::kCgan) {
    const auto planes = torch::one_hot(labels, shape_.classes).to(images.dtype()).view({-1, shape_.classes, 1, 1});
    input = torch::cat({images, planes.expand({-1, -1, images.size(2), images.size(3)})}, 1);
  }
  const auto features = body_->forward(input);
  DiscriminatorOutput out;
  out.adversarial = adversarial_->forward(features).squeeze(1);
  if (classes_) out.class_logits = classes_->forward(features);
  if (codes_) out.code_means = codes_->forward(features);
  return out;
}

}  // namespace isda::gan
