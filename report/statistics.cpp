#include "report/statistics.h"

#include <algorithm>
#include <cmath>

namespace isda::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The continued fraction of I_x(a, b) (modified Lentz), which converges fast for x < (a+1)/(a+b+2).
double beta_continued_fraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  const auto guard = [](double v) { return std::abs(v) < kTiny ? kTiny : v; };
  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double term = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));  // even step
    d = 1.0 / guard(1.0 + term * d);
    c = guard(1.0 + term / c);
    h *= d * c;
    term = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));  // odd step
    d = 1.0 / guard(1.0 + term * d);
    c = guard(1.0 + term / c);
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1.0) < kEpsilon) break;
  }
  return h;
}

}  // namespace

double regularized_incomplete_beta(double x, double a, double b) {
  if (std::isnan(x) || !(a > 0) || !(b > 0) || x < 0 || x > 1) return kNaN;
  if (x == 0 || x == 1) return x;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_continued_fraction(x, a, b) / a;
  return 1.0 - std::exp(log_front) * beta_continued_fraction(1.0 - x, b, a) / b;
}

double student_t_cdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(df)) return 0.5 * std::erfc(-t / std::sqrt(2.0));
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2).
  const double tail = 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
  return t > 0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return kNaN;
  if (p == 0.5) return 0.0;
  double low = -1.0;
  double high = 1.0;
  while (student_t_cdf(low, df) > p) low *= 2.0;
  while (student_t_cdf(high, df) < p) high *= 2.0;
  for (int i = 0; i < 300 && high - low > 1e-12 * std::max(1.0, std::abs(low)); ++i) {
    const double middle = 0.5 * (low + high);
    (student_t_cdf(middle, df) < p ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

double welch_df(double variance_a, int64_t n_a, double variance_b, int64_t n_b) {
  if (n_a < 2 || n_b < 2) return kNaN;
  const double a = variance_a / static_cast<double>(n_a);
  const double b = variance_b / static_cast<double>(n_b);
  if (a + b == 0) return kNaN;
  return (a + b) * (a + b) / (a * a / static_cast<double>(n_a - 1) + b * b / static_cast<double>(n_b - 1));
}

WelchResult welch_difference(const Sample& method, const Sample& baseline, double confidence) {
  WelchResult result;
  if (method.n < 1 || baseline.n < 1 || std::isnan(method.mean) || std::isnan(baseline.mean)) return result;
  result.difference = method.mean - baseline.mean;
  if (method.n < 2 || baseline.n < 2) {
    result.status = WelchStatus::too_few_seeds;
    return result;
  }
  const double variance_a = method.std * method.std;
  const double variance_b = baseline.std * baseline.std;
  const double squared_error = variance_a / static_cast<double>(method.n) + variance_b / static_cast<double>(baseline.n);
  if (!(squared_error > 0)) {
    result.status = WelchStatus::zero_variance;
    return result;
  }
  result.status = WelchStatus::ok;
  result.standard_error = std::sqrt(squared_error);
  result.df = welch_df(variance_a, method.n, variance_b, baseline.n);
  const double critical = student_t_quantile(0.5 + confidence / 2.0, result.df);
  result.low = result.difference - critical * result.standard_error;
  result.high = result.difference + critical * result.standard_error;
  const double t = std::abs(result.difference) / result.standard_error;
  result.p_value = std::min(1.0, 2.0 * (1.0 - student_t_cdf(t, result.df)));
  return result;
}

double welch_power(double target, double std_a, double std_b, int64_t n, double alpha) {
  const double variance_sum = std_a * std_a + std_b * std_b;
  if (n < 2 || !(variance_sum > 0) || std::isnan(target)) return kNaN;
  const double df = welch_df(std_a * std_a, n, std_b * std_b, n);
  const double critical = student_t_quantile(1.0 - alpha / 2.0, df);
  const double delta = std::abs(target) / std::sqrt(variance_sum / static_cast<double>(n));
  return (1.0 - student_t_cdf(critical - delta, df)) + student_t_cdf(-critical - delta, df);
}

SeedsAdvice seeds_for_power(double target, double std_a, double std_b, double power, double alpha, int64_t limit) {
  if (std::isnan(target) || target == 0) return {PowerStatus::no_target, 0};
  if (std::isnan(std_a) || std::isnan(std_b)) return {PowerStatus::no_spread_known, 0};
  if (std_a == 0 && std_b == 0) return {PowerStatus::no_spread, 2};
  // Power grows with n: bisection over [2, limit].
  if (welch_power(target, std_a, std_b, limit, alpha) < power) return {PowerStatus::beyond_limit, limit};
  int64_t low = 1;  // power(low) < target power (or low < 2)
  int64_t high = limit;
  while (high - low > 1) {
    const int64_t middle = (low + high) / 2;
    (middle >= 2 && welch_power(target, std_a, std_b, middle, alpha) >= power ? high : low) = middle;
  }
  return {PowerStatus::ok, high};
}

}  // namespace isda::report
