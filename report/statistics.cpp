#include "report/statistics.h"

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/beta.hpp>

#include <algorithm>
#include <cmath>

namespace isda::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Boost.Math reports a domain, pole, overflow, rounding or evaluation error as a value (NaN, an
// infinity, the closest value reached), never as an exception (the other errors never throw by
// default): the header's contract is NaN, and the arguments are checked here before Boost sees them.
namespace policies = boost::math::policies;
using NoThrow = policies::policy<policies::domain_error<policies::ignore_error>,
                                 policies::pole_error<policies::ignore_error>,
                                 policies::overflow_error<policies::ignore_error>,
                                 policies::rounding_error<policies::ignore_error>,
                                 policies::evaluation_error<policies::ignore_error>>;
using Normal = boost::math::normal_distribution<double, NoThrow>;
using StudentT = boost::math::students_t_distribution<double, NoThrow>;
using NoncentralT = boost::math::non_central_t_distribution<double, NoThrow>;
using ChiSquared = boost::math::chi_squared_distribution<double, NoThrow>;

// Boost sums the noncentral t's Poisson-weighted series from its mode, delta^2 / 2, which it
// truncates to an int with the throwing default policy (delta > ~65536 throws whatever our policy
// says), and its cost grows with delta (about 1 ms per 5000). Beyond this delta the power comes
// from the limit below instead; at 1e4 the two agree to 3e-4 relative even in a 1e-55 tail.
constexpr double kLargestSeriesDelta = 1e4;

// P(|T'| > critical) for T' ~ noncentral t(df, delta), delta >= 0, critical > 0.
double noncentral_t_two_sided_tail(double df, double delta, double critical) {
  if (delta <= kLargestSeriesDelta) {
    const NoncentralT noncentral(df, delta);
    const double upper = boost::math::cdf(boost::math::complement(noncentral, critical));
    return upper + boost::math::cdf(noncentral, -critical);
  }
  // T' = (Z + delta) / S with S^2 ~ chi2_df / df; Z is within 40 of 0 but for a 1e-300 chance, which
  // is < 0.4% of delta here, so P(T' <= critical) = P(S >= delta / critical) = P(chi2_df >= df
  // (delta / critical)^2) to that relative shift of the threshold, and P(T' < -critical) < 1e-300.
  const double ratio = delta / critical;
  return boost::math::cdf(ChiSquared(df), df * ratio * ratio);
}

}  // namespace

double regularized_incomplete_beta(double x, double a, double b) {
  if (std::isnan(x) || !(a > 0) || !(b > 0) || x < 0 || x > 1) return kNaN;
  return boost::math::ibeta(a, b, x, NoThrow());
}

double student_t_cdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(df)) return boost::math::cdf(Normal(), t);
  return boost::math::cdf(StudentT(df), t);
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return kNaN;
  if (std::isinf(df)) return boost::math::quantile(Normal(), p);
  return boost::math::quantile(StudentT(df), p);
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
  if (!(critical > 0)) return kNaN;  // alpha outside (0, 1)
  const double delta = std::abs(target) / std::sqrt(variance_sum / static_cast<double>(n));
  return noncentral_t_two_sided_tail(df, delta, critical);
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
