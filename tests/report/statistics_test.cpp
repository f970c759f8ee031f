// The t distribution, Welch's interval and test, and the seeds advisor against published t tables
// and values worked out by hand (the expected numbers are written in the comments); the noncentral
// t power against R, a quadrature done apart from Boost (mpmath) and a Monte Carlo.
#include "report/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace isda::report {
namespace {

TEST(Statistics, TQuantilesMatchThePublishedTable) {
  // Two-sided 95% critical values (the 0.975 quantile), as printed in every t table.
  const struct {
    double df, value;
  } table[] = {{1, 12.706}, {2, 4.303}, {3, 3.182}, {4, 2.776},  {5, 2.571},
               {10, 2.228}, {20, 2.086}, {30, 2.042}, {120, 1.980}};
  for (const auto& row : table) EXPECT_NEAR(student_t_quantile(0.975, row.df), row.value, 5e-4) << "df " << row.df;
  EXPECT_NEAR(student_t_quantile(0.95, 1), 6.314, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.95, 10), 1.812, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.032, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.025, 10), -2.228, 5e-4);  // symmetric
  EXPECT_NEAR(student_t_quantile(0.975, std::numeric_limits<double>::infinity()), 1.960, 5e-4);
  EXPECT_DOUBLE_EQ(student_t_quantile(0.5, 7), 0.0);
}

TEST(Statistics, TCdfMatchesClosedFormsForOneAndTwoDegreesOfFreedom) {
  // df 1 is the Cauchy distribution: 1/2 + atan(t)/pi. df 2: 1/2 + t / (2 sqrt(2 + t^2)).
  for (const double t : {-3.0, -0.5, 0.0, 1.0, 4.0}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-12) << t;
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12) << t;
  }
  // Fractional df (Welch's) sits between its neighbours.
  EXPECT_GT(student_t_cdf(2.0, 5.5), student_t_cdf(2.0, 5));
  EXPECT_LT(student_t_cdf(2.0, 5.5), student_t_cdf(2.0, 6));
  EXPECT_TRUE(std::isnan(student_t_cdf(1.0, 0)));
  EXPECT_TRUE(std::isnan(student_t_quantile(1.0, 5)));
}

TEST(Statistics, IncompleteBetaMatchesClosedForms) {
  // I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b; I_x(a, a) at 1/2 is 1/2.
  EXPECT_NEAR(regularized_incomplete_beta(0.3, 2.5, 1), std::pow(0.3, 2.5), 1e-13);
  EXPECT_NEAR(regularized_incomplete_beta(0.7, 1, 3.5), 1 - std::pow(0.3, 3.5), 1e-13);
  EXPECT_NEAR(regularized_incomplete_beta(0.5, 4.2, 4.2), 0.5, 1e-13);
  EXPECT_EQ(regularized_incomplete_beta(0, 2, 3), 0);
  EXPECT_EQ(regularized_incomplete_beta(1, 2, 3), 1);
}

TEST(Statistics, WelchDegreesOfFreedomByHand) {
  // s = 1, n = 3 against s = 2, n = 5: (1/3 + 4/5)^2 / ((1/3)^2 / 2 + (4/5)^2 / 4) = 578/97.
  EXPECT_NEAR(welch_df(1, 3, 4, 5), 578.0 / 97.0, 1e-12);
  // Equal sizes and variances: 2 (n - 1).
  EXPECT_NEAR(welch_df(0.3, 3, 0.3, 3), 4, 1e-12);
  EXPECT_NEAR(welch_df(2.0, 2, 2.0, 2), 2, 1e-12);
  // One variance zero: the other side's n - 1.
  EXPECT_NEAR(welch_df(0, 3, 1, 4), 3, 1e-12);
  EXPECT_TRUE(std::isnan(welch_df(0, 3, 0, 3)));
  EXPECT_TRUE(std::isnan(welch_df(1, 1, 1, 3)));
}

TEST(Statistics, WelchIntervalAndPValueByHand) {
  // n = 6 each, s = 1 each, difference 1: df = 10, se = sqrt(1/3), t = sqrt(3) = 1.732;
  // t(0.975, 10) = 2.2281, interval 1 -+ 1.2864; two-sided p = 0.1139 (integrated numerically).
  const auto result = welch_difference({6, 3.0, 1.0}, {6, 2.0, 1.0});
  ASSERT_EQ(result.status, WelchStatus::ok);
  EXPECT_DOUBLE_EQ(result.difference, 1.0);
  EXPECT_NEAR(result.df, 10, 1e-12);
  EXPECT_NEAR(result.standard_error, std::sqrt(1.0 / 3.0), 1e-12);
  EXPECT_NEAR(result.low, 1 - 2.228139 * std::sqrt(1.0 / 3.0), 1e-5);
  EXPECT_NEAR(result.high, 1 + 2.228139 * std::sqrt(1.0 / 3.0), 1e-5);
  EXPECT_NEAR(result.p_value, 0.113937, 1e-5);
}

TEST(Statistics, WelchWithTwoSeedsUsesTwoDegreesOfFreedom) {
  // n = 2 each, s = 0.1 each: df = 2, t(0.975, 2) = 4.3027, se = 0.1.
  const auto result = welch_difference({2, 7.09, 0.1}, {2, 7.39, 0.1});
  ASSERT_EQ(result.status, WelchStatus::ok);
  EXPECT_NEAR(result.difference, -0.30, 1e-12);
  EXPECT_NEAR(result.df, 2, 1e-12);
  EXPECT_NEAR(result.high - result.difference, 4.302653 * 0.1, 1e-5);
  // t = -3, df 2: p = 2 (1/2 - 3 / (2 sqrt 11)) = 1 - 3/sqrt(11).
  EXPECT_NEAR(result.p_value, 1 - 3 / std::sqrt(11.0), 1e-10);
}

TEST(Statistics, OneSeedGivesADifferenceButNoIntervalNorPValue) {
  const auto result = welch_difference({1, 5.0, std::numeric_limits<double>::quiet_NaN()}, {3, 6.0, 0.5});
  EXPECT_EQ(result.status, WelchStatus::too_few_seeds);
  EXPECT_DOUBLE_EQ(result.difference, -1.0);
  EXPECT_TRUE(std::isnan(result.low));
  EXPECT_TRUE(std::isnan(result.high));
  EXPECT_TRUE(std::isnan(result.p_value));
  EXPECT_EQ(welch_difference({}, {3, 6.0, 0.5}).status, WelchStatus::no_data);
}

TEST(Statistics, ZeroVarianceOnBothSidesIsNamedNotANumber) {
  const auto result = welch_difference({3, 5.0, 0.0}, {3, 6.0, 0.0});
  EXPECT_EQ(result.status, WelchStatus::zero_variance);
  EXPECT_DOUBLE_EQ(result.difference, -1.0);
  EXPECT_TRUE(std::isnan(result.p_value));
  EXPECT_TRUE(std::isnan(result.low));
  // One side without spread is fine: df is the other side's n - 1.
  const auto one_sided = welch_difference({3, 5.0, 0.0}, {4, 6.0, 1.0});
  ASSERT_EQ(one_sided.status, WelchStatus::ok);
  EXPECT_NEAR(one_sided.df, 3, 1e-12);
}

TEST(Statistics, SeedsForPowerMatchTheTextbookSampleSizes) {
  // Effect size d = 1 (difference = std): 17 per group for 80% power at 5% two-sided, the value in
  // Cohen's tables for the noncentral t; d = 0.5: 64.
  EXPECT_EQ(seeds_for_power(1.0, 1.0, 1.0).seeds, 17);
  EXPECT_EQ(seeds_for_power(1.0, 1.0, 1.0).status, PowerStatus::ok);
  EXPECT_EQ(seeds_for_power(-0.5, 1.0, 1.0).seeds, 64);  // the sign does not matter
  EXPECT_LT(welch_power(1.0, 1.0, 1.0, 16), 0.8);
  EXPECT_GE(welch_power(1.0, 1.0, 1.0, 17), 0.8);
  // ISDA's ResNet-32 CIFAR-10 gain (-0.30) with the paper's stds (0.12, 0.10): a handful of seeds.
  const auto small = seeds_for_power(-0.30, 0.12, 0.10);
  EXPECT_EQ(small.status, PowerStatus::ok);
  EXPECT_GE(small.seeds, 3);
  EXPECT_LE(small.seeds, 6);
  EXPECT_EQ(seeds_for_power(0.01, 1.0, 1.0, 0.8, 0.05, 1000).status, PowerStatus::beyond_limit);
  EXPECT_EQ(seeds_for_power(std::numeric_limits<double>::quiet_NaN(), 1, 1).status, PowerStatus::no_target);
  EXPECT_EQ(seeds_for_power(0.3, std::numeric_limits<double>::quiet_NaN(), 1).status, PowerStatus::no_spread_known);
  EXPECT_EQ(seeds_for_power(0.3, 0, 0).status, PowerStatus::no_spread);
}

TEST(Statistics, TQuantilesAndCdfToTwelveDigits) {
  // R's qt(0.975, 10); the Cauchy's tan(0.495 pi); fractional df (Welch's) as mpmath's incomplete
  // beta gives them (30 digits, bisection).
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228138851986, 1e-11);
  EXPECT_NEAR(student_t_quantile(0.995, 1), 63.65674116287153, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.9, 3), 1.63774435369621, 1e-12);
  EXPECT_NEAR(student_t_quantile(0.999, 30), 3.385184866829305, 1e-11);
  EXPECT_NEAR(student_t_quantile(0.975, 5.5), 2.50185861758924, 1e-11);
  EXPECT_NEAR(student_t_cdf(-1.5, 3.3), 0.1112515983596459, 1e-13);
  EXPECT_NEAR(student_t_quantile(0.975, std::numeric_limits<double>::infinity()), 1.959963984540054, 1e-12);
  EXPECT_NEAR(student_t_cdf(1.959963984540054, std::numeric_limits<double>::infinity()), 0.975, 1e-14);
  EXPECT_EQ(student_t_cdf(std::numeric_limits<double>::infinity(), 3), 1.0);
  EXPECT_EQ(student_t_cdf(-std::numeric_limits<double>::infinity(), 3), 0.0);
}

TEST(Statistics, InvalidArgumentsAreNaNNotExceptions) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(student_t_cdf(nan, 5)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1.0, -2)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1.0, nan)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.0, 5)));
  EXPECT_TRUE(std::isnan(student_t_quantile(nan, 5)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.5, 0)));
  EXPECT_TRUE(std::isnan(regularized_incomplete_beta(1.5, 2, 3)));
  EXPECT_TRUE(std::isnan(regularized_incomplete_beta(0.5, 0, 3)));
  EXPECT_TRUE(std::isnan(welch_power(1.0, 1.0, 1.0, 10, 0.0)));  // alpha outside (0, 1)
  EXPECT_TRUE(std::isnan(welch_power(1.0, 1.0, 1.0, 10, 1.0)));
  EXPECT_TRUE(std::isnan(welch_power(1.0, 1.0, 1.0, 1)));
  EXPECT_TRUE(std::isnan(welch_power(1.0, 0.0, 0.0, 5)));
}

TEST(Statistics, PowerIsTheNoncentralTOfR) {
  // R: power.t.test(n = 10, delta = 1, sd = 1) = 0.5619846, P(T' > t(0.975, 18)) with T' ~
  // noncentral t(18, sqrt(5)) (equal n and std: Welch's df is the pooled test's 2 (n - 1)). R counts
  // the upper tail only; strict = TRUE adds P(T' < -t_crit) = 2.2e-5: 0.5620066466.
  EXPECT_NEAR(welch_power(1.0, 1.0, 1.0, 10), 0.5620066466, 1e-9);
  EXPECT_NEAR(welch_power(1.0, 1.0, 1.0, 10) - 0.5619846, 2.2e-5, 1e-6);
  // power.t.test(power = 0.8, delta = 1) gives n = 16.71, and delta = 0.5 n = 63.77: the 17 and 64 above.
  EXPECT_NEAR(welch_power(1.0, 1.0, 1.0, 16), 0.7813977925, 1e-9);
  EXPECT_NEAR(welch_power(1.0, 1.0, 1.0, 17), 0.8070367151, 1e-9);
  EXPECT_NEAR(welch_power(0.5, 1.0, 1.0, 64), 0.8014595579, 1e-9);
}

TEST(Statistics, PowerWithFewSeedsAndUnequalStdsIsExact) {
  // ISDA's ResNet-32 gain with the paper's stds, 2 and 3 seeds: fractional df (1.937, 3.874), where
  // the shifted central t approximation gives 0.126 and 0.684. Reference: mpmath quadrature of
  // E_S[P(|Z + delta| > t_crit S)], S^2 ~ chi2_df / df, at 30 digits.
  EXPECT_NEAR(welch_power(-0.30, 0.12, 0.10, 2), 0.32718791621333, 1e-9);
  EXPECT_NEAR(welch_power(-0.30, 0.12, 0.10, 3), 0.6950608816601, 1e-9);
  EXPECT_EQ(seeds_for_power(-0.30, 0.12, 0.10).seeds, 4);  // 0.8854 at n = 4
}

TEST(Statistics, PowerMatchesAMonteCarloOfTheNoncentralT) {
  // T' = (Z + delta) / sqrt(V / df), V ~ chi2_df, for 3 seeds of std 0.12 against 3 of 0.10 and a
  // difference of 0.30: 400000 draws, standard error 7e-4, tolerance 4e-3.
  const double df = welch_df(0.12 * 0.12, 3, 0.10 * 0.10, 3);
  const double delta = 0.30 / std::sqrt((0.12 * 0.12 + 0.10 * 0.10) / 3.0);
  const double critical = student_t_quantile(0.975, df);
  std::mt19937_64 generator(20240522);
  std::normal_distribution<double> normal;
  std::chi_squared_distribution<double> chi_squared(df);
  constexpr int kDraws = 400000;
  int rejections = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double t = (normal(generator) + delta) / std::sqrt(chi_squared(generator) / df);
    rejections += std::abs(t) > critical;
  }
  EXPECT_NEAR(welch_power(0.30, 0.12, 0.10, 3), static_cast<double>(rejections) / kDraws, 4e-3);
}

TEST(Statistics, PowerForAHugeNoncentralityNeitherThrowsNorHangs) {
  // Stds of 1e-4 against a difference of 0.3 and 1000 seeds: delta = 67082, past where Boost's
  // series truncates delta^2 / 2 to an int (and throws). The power is 1; 2 seeds per cell suffice.
  EXPECT_EQ(welch_power(0.3, 1e-4, 1e-4, 1000), 1.0);
  const auto advice = seeds_for_power(0.3, 1e-4, 1e-4);
  EXPECT_EQ(advice.status, PowerStatus::ok);
  EXPECT_EQ(advice.seeds, 2);
  // Where the power is not 1 there (df 1: one std 0, n = 2; alpha 1e-6: t_crit = 636620), the limit
  // used past delta = 1e4 meets the series: P(|Z| >= delta / t_crit) for df 1.
  const auto power_at = [](double delta) { return welch_power(delta * std::sqrt(0.5), 1.0, 0.0, 2, 1e-6); };
  EXPECT_NEAR(power_at(9999.0), power_at(10001.0), 1e-5);
  EXPECT_NEAR(power_at(10001.0), 1.0 - std::erfc(10001.0 / student_t_quantile(1 - 5e-7, 1) / std::sqrt(2.0)), 1e-6);
  EXPECT_NEAR(power_at(1e6), 1.0 - std::erfc(1e6 / student_t_quantile(1 - 5e-7, 1) / std::sqrt(2.0)), 1e-6);
}

}  // namespace
}  // namespace isda::report
