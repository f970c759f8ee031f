#pragma once
// The statistics of a difference between two cells of a table (a method against its baseline):
// Student's t distribution, Welch's unequal-variance t interval and test, and the seeds a cell needs
// to detect a given difference with a given power (the exact noncentral t). The distributions are
// Boost.Math's (headers only), with a policy that turns its errors into NaN: nothing here throws.
// Pure functions; every result that cannot be computed is NaN in the struct and named by a status,
// never shown as a number.

#include <cstdint>
#include <limits>
#include <string>

namespace isda::report {

// P(T <= t) for Student's t with `df` > 0 degrees of freedom (df may be fractional, as Welch's is;
// df = +infinity gives the standard normal). NaN for df <= 0 or NaN input.
double student_t_cdf(double t, double df);
// The p-quantile of Student's t (0 < p < 1), to ~1e-13 relative; NaN outside that range or for
// df <= 0.
double student_t_quantile(double p, double df);
// I_x(a, b), the regularised incomplete beta function (boost::math::ibeta), for 0 <= x <= 1 and
// a, b > 0; NaN outside that domain.
double regularized_incomplete_beta(double x, double a, double b);

// What a cell contributes: its seeds, mean and sample standard deviation (n - 1).
struct Sample {
  int64_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();  // NaN when n < 2
};

enum class WelchStatus {
  ok,             // interval and p-value computed
  no_data,        // one side has no value: no difference at all
  too_few_seeds,  // a difference, but one side has a single seed: no variance, no interval
  zero_variance,  // both sides have n >= 2 and no spread at all: no interval, no p-value
};

// method - baseline, Welch's t (two-sided). `df` is the Welch-Satterthwaite degrees of freedom.
struct WelchResult {
  WelchStatus status = WelchStatus::no_data;
  double difference = std::numeric_limits<double>::quiet_NaN();
  double standard_error = std::numeric_limits<double>::quiet_NaN();
  double df = std::numeric_limits<double>::quiet_NaN();
  double low = std::numeric_limits<double>::quiet_NaN();  // the confidence interval
  double high = std::numeric_limits<double>::quiet_NaN();
  double p_value = std::numeric_limits<double>::quiet_NaN();
};
WelchResult welch_difference(const Sample& method, const Sample& baseline, double confidence = 0.95);
// The Welch-Satterthwaite degrees of freedom for two variances and sizes (each n >= 2); NaN when
// both variances are 0.
double welch_df(double variance_a, int64_t n_a, double variance_b, int64_t n_b);

enum class PowerStatus {
  ok,                // seeds found
  beyond_limit,      // more than `limit` seeds per cell
  no_target,         // no (or a zero) difference to detect
  no_spread_known,   // a side has fewer than 2 seeds: its standard deviation is unknown
  no_spread,         // both observed standard deviations are 0: any n >= 2 detects it
};
struct SeedsAdvice {
  PowerStatus status = PowerStatus::no_target;
  int64_t seeds = 0;  // per cell, when ok (or 2 when no_spread)
};
// The smallest number of seeds per cell (the same in both, 2..limit) with which Welch's two-sided
// test at level `alpha` detects a true difference `target` with probability >= `power`, when the two
// cells' standard deviations are `std_a` and `std_b`. `beyond_limit` (with seeds = limit) when even
// `limit` seeds fall short.
SeedsAdvice seeds_for_power(double target, double std_a, double std_b, double power = 0.8, double alpha = 0.05,
                            int64_t limit = 1000);
// That power for n seeds per cell, from the exact noncentral t: P(|T'| > t_crit), T' ~ noncentral
// t(df, delta), df the Welch-Satterthwaite df of n seeds per cell, t_crit = t(1 - alpha/2, df),
// delta = |target| / sqrt((std_a^2 + std_b^2) / n). For delta > 1e4, where Boost's series would
// throw or crawl, its limit 1 - P(chi2_df / df >= (delta / t_crit)^2) (exactly 1 at alpha = 0.05).
// NaN for n < 2, no spread (std_a = std_b = 0), a NaN target or alpha outside (0, 1).
double welch_power(double target, double std_a, double std_b, int64_t n, double alpha = 0.05);

}  // namespace isda::report
