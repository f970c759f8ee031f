#pragma once
// The metrics isda-report knows: one table from a name to where the results store keeps it.
// Adding a metric is one line in metrics.cpp.

#include "results/run_metrics.h"

#include <string>
#include <string_view>

namespace isda::report {

enum class MetricKind {
  final_value,  // one number per finished run (the `finals` table): what a table cell averages
  per_epoch,    // one number per epoch (the `epochs` table): what a figure plots
};

struct Metric {
  std::string_view name;
  MetricKind kind;
  double results::FinalRow::*final_field;  // set when kind is final_value
  double results::EpochRow::*epoch_field;  // set when kind is per_epoch
  std::string_view description;            // for legends and axes, e.g. "test error (%)"
};

inline constexpr char kDefaultTableMetric[] = "last10_test_error";
inline constexpr char kDefaultFigureMetric[] = "test_error";

// The metric of that name, or nullptr when there is none.
const Metric* find_metric(std::string_view name);
// The names of every metric of one kind, comma-separated, for error messages.
std::string metric_names(MetricKind kind);

// A run's value of the metric (NaN when the store has none); the metric must be of the right kind.
double value_of(const Metric& metric, const results::FinalRow& finals);
double value_of(const Metric& metric, const results::EpochRow& epoch);

}  // namespace isda::report
