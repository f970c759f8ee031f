#pragma once
// The losses that the ISDA paper compares against in Table 3 (Sec. 4.1 "Baselines"), each on top of
// a network's features and final linear layer, like isda/isda_loss.h. Each one follows its own
// paper's formula; the defaults are the original papers' unless noted (the ISDA paper's Appendix B,
// which lists the settings it used, is not in this tree).

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace isda::train {

enum class LossKind {
  kCrossEntropy,  // plain softmax cross-entropy
  kIsda,          // paper Eq. 4: use isda::isda_loss, not ComparisonLoss
  kLargeMargin,   // L-Softmax, Liu et al., ICML 2016 (ISDA ref. [18])
  kDisturbLabel,  // DisturbLabel, Xie et al., CVPR 2016 (ref. [38])
  kFocal,         // focal loss, Lin et al., ICCV 2017 (ref. [17])
  kCenter,        // center loss, Wen et al., ECCV 2016 (ref. [22])
  kLq,            // Lq / generalized cross-entropy, Zhang & Sabuncu, NeurIPS 2018 (ref. [16])
};

// "ce", "isda", "large_margin", "disturb_label", "focal", "center", "lq".
// Throws std::invalid_argument naming the value and listing the known names.
LossKind parse_loss_kind(const std::string& name);
std::string to_string(LossKind kind);

// Hyper-parameters of every comparison loss; each loss reads only its own.
struct LossOptions {
  // L-Softmax: integer angular margin m >= 1 (m = 1 is plain softmax). Liu et al. use m = 2..4; 2 here.
  int64_t margin = 2;
  // L-Softmax mixing weight beta >= 0 (the authors' "lambda"): target logit
  // (beta |w||x| cos + |w||x| psi) / (1 + beta). 0 is the pure margin loss; see large_margin_beta().
  double large_margin_beta = 0.0;
  // DisturbLabel: probability alpha in [0, 1] that a label is replaced by a uniformly drawn class
  // (which may be the true one). Xie et al. recommend 10%.
  double disturb_alpha = 0.1;
  // Focal loss exponent gamma >= 0 (Lin et al.'s best, 2); 0 is cross-entropy exactly.
  double focal_gamma = 2.0;
  // Focal loss per-class weights alpha_c (C values > 0); empty: no weighting (Lin et al.'s alpha-balancing
  // is for the binary case; it is off by default here).
  std::vector<double> focal_alpha;
  // Center loss weight lambda >= 0 and centre learning rate alpha in (0, 1]; Wen et al. use 0.003 and 0.5.
  double center_lambda = 0.003;
  double center_alpha = 0.5;
  // Lq loss exponent q in (0, 1] (Zhang & Sabuncu's 0.7); q -> 0 approaches cross-entropy, q = 1 is MAE.
  double lq_q = 0.7;
};

// The authors' annealing of the L-Softmax weight (their Caffe layer's base/gamma/power/lambda_min):
//   beta(it) = max(beta_min, base * (1 + gamma * it)^(-power)).
// The defaults are those of the authors' CIFAR-10 model as we recall them (not verified in this tree).
struct LargeMarginAnnealing {
  double base = 1000.0;
  double gamma = 0.12;
  double power = 1.0;
  double beta_min = 0.0;
};
double large_margin_beta(const LargeMarginAnnealing& annealing, int64_t iteration);

// One of the comparison losses (or plain cross-entropy) with its state: the class centres of the
// center loss and the random generator of DisturbLabel. Not thread-safe.
class ComparisonLoss {
 public:
  // Throws std::invalid_argument for kIsda, non-positive sizes or an option out of its range (the
  // message names the option). Centres start at zero on `device`, kept in float64.
  ComparisonLoss(LossKind kind, const LossOptions& options, int64_t num_classes, int64_t feature_dim,
                 torch::Device device = torch::kCPU, uint64_t seed = 0);

  struct Output {
    torch::Tensor loss;     // scalar, mean over the batch
    torch::Tensor logits;   // clean logits W a + b (N, C): use these for accuracy
    torch::Tensor targets;  // the labels the loss was computed against (DisturbLabel: the disturbed ones)
  };

  // features (N, A) carry the network's graph; weight (C, A) and bias (C, or undefined) are the final
  // linear layer's; labels (N) in [0, C). Gradients flow into the features, W and b. The center loss
  // then moves its centres (Wen et al. Eq. 4) and DisturbLabel advances its generator.
  // Throws std::invalid_argument on shape mismatch or a label out of range.
  Output operator()(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias,
                    const torch::Tensor& labels);

  // The L-Softmax weight beta in use; set it each iteration to anneal (see large_margin_beta()).
  void set_large_margin_beta(double beta);

  LossKind kind() const { return kind_; }
  const LossOptions& options() const { return options_; }
  // (C, A) float64 class centres of the center loss; undefined for the other kinds.
  const torch::Tensor& centers() const { return centers_; }

  // Checkpointing: kind, sizes, centres and the generator state (so DisturbLabel continues bit for bit).
  // load() throws std::runtime_error if the saved kind or sizes differ.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor large_margin_logits(const torch::Tensor& features, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& labels) const;
  torch::Tensor disturb(const torch::Tensor& labels);
  void update_centers(const torch::Tensor& features, const torch::Tensor& labels);

  LossKind kind_;
  LossOptions options_;
  int64_t num_classes_;
  int64_t feature_dim_;
  at::Generator generator_;   // CPU; DisturbLabel's draws
  torch::Tensor centers_;     // (C, A) float64 on the device; center loss only
  torch::Tensor focal_alpha_; // (C) float64; defined when focal_alpha is given
};

}  // namespace isda::train
