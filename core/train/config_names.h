#pragma once
// The names a run config's enumerated keys take, defined once. validate() checks a config against
// them, and each module's parser maps a name to its enum by position in the same table
// (parse_named), so a name added here and to its enum (in the same order) is known everywhere;
// tests check that every key's help lists its names. Free of LibTorch.

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace isda::train::names {

template <size_t N>
using Names = std::array<std::string_view, N>;

inline constexpr Names<4> kDatasets{"fashion-mnist", "cifar10", "cifar100", "imagenet"};
inline constexpr Names<4> kAugments{"none", "standard", "cutout", "autoaugment"};  // data::AugmentKind
inline constexpr Names<5> kTasks{"classify", "wgan", "cgan", "acgan", "infogan"};
inline constexpr Names<4> kGans{"wgan", "cgan", "acgan", "infogan"};  // gan::GanKind
inline constexpr Names<7> kMethods{"ce", "isda", "large_margin", "disturb_label", "focal", "center", "lq"};  // LossKind
inline constexpr Names<3> kLambdaSchedules{"epoch", "iteration", "constant"};  // LambdaScheduleKind
inline constexpr Names<4> kCovariances{"full", "diagonal", "identity", "single"};  // CovarianceKind
inline constexpr Names<2> kEstimatorDtypes{"float64", "float32"};
inline constexpr Names<2> kEstimatorShardings{"auto", "off"};
inline constexpr Names<2> kLrSchedules{"step", "cosine"};
inline constexpr Names<2> kPrecisions{"fp32", "bf16"};

// "a, b, c".
template <size_t N>
std::string joined(const Names<N>& names) {
  std::string text;
  for (const auto name : names) (text += text.empty() ? "" : ", ") += name;
  return text;
}

// Whether `name` is one of `names`.
template <size_t N>
bool is_one_of(const Names<N>& names, std::string_view name) {
  for (const auto n : names) {
    if (n == name) return true;
  }
  return false;
}

// The enum value at `name`'s position in `names` (the enum lists its values in the table's order).
// Throws std::invalid_argument "unknown <what> "<name>" (known: ...)".
template <typename Kind, size_t N>
Kind parse_named(const Names<N>& names, std::string_view name, const char* what) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Kind>(i);
  }
  throw std::invalid_argument("unknown " + std::string(what) + " \"" + std::string(name) + "\" (known: " + joined(names) +
                              ")");
}

// The name of `kind`: its position in `names`.
template <typename Kind, size_t N>
std::string name_of(const Names<N>& names, Kind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < N ? std::string(names[i]) : "?";
}

}  // namespace isda::train::names
