#include "report/metrics.h"

#include <limits>

namespace isda::report {
namespace {

using results::EpochRow;
using results::FinalRow;

constexpr Metric kMetrics[] = {
    {"last10_test_error", MetricKind::final_value, &FinalRow::last10_test_error, nullptr,
     "test error (%), mean of the last 10 epochs"},
    {"final_test_error", MetricKind::final_value, &FinalRow::final_test_error, nullptr, "test error (%) after the last epoch"},
    {"best_test_error", MetricKind::final_value, &FinalRow::best_test_error, nullptr, "lowest test error (%) of any epoch"},
    {"last10_validation_error", MetricKind::final_value, &FinalRow::last10_validation_error, nullptr,
     "hold-out error (%), mean of the last 10 epochs"},
    {"last10_test_top5_error", MetricKind::final_value, &FinalRow::last10_test_top5_error, nullptr,
     "top-5 test error (%), mean of the last 10 epochs"},
    {"test_error", MetricKind::per_epoch, nullptr, &EpochRow::test_error, "test error (%)"},
    {"test_top5_error", MetricKind::per_epoch, nullptr, &EpochRow::test_top5_error, "top-5 test error (%)"},
    {"train_error", MetricKind::per_epoch, nullptr, &EpochRow::train_error, "training error (%)"},
    {"train_loss", MetricKind::per_epoch, nullptr, &EpochRow::train_loss, "training loss"},
    {"validation_error", MetricKind::per_epoch, nullptr, &EpochRow::validation_error, "hold-out error (%)"},
    {"lr", MetricKind::per_epoch, nullptr, &EpochRow::lr, "learning rate"},
    {"lambda", MetricKind::per_epoch, nullptr, &EpochRow::lambda, "ISDA lambda"},
};

}  // namespace

const Metric* find_metric(std::string_view name) {
  for (const auto& metric : kMetrics) {
    if (metric.name == name) return &metric;
  }
  return nullptr;
}

std::string metric_names(MetricKind kind) {
  std::string names;
  for (const auto& metric : kMetrics) {
    if (metric.kind != kind) continue;
    if (!names.empty()) names += ", ";
    names += metric.name;
  }
  return names;
}

double value_of(const Metric& metric, const results::FinalRow& finals) {
  if (metric.final_field == nullptr) return std::numeric_limits<double>::quiet_NaN();
  return finals.*metric.final_field;
}

double value_of(const Metric& metric, const results::EpochRow& epoch) {
  if (metric.epoch_field == nullptr) return std::numeric_limits<double>::quiet_NaN();
  return epoch.*metric.epoch_field;
}

}  // namespace isda::report
