#include "isda/lambda_schedule.h"

#include <gtest/gtest.h>

namespace isda {
namespace {

TEST(LambdaSchedule, PerEpochRampIsTheAuthorsCode) {
  const LambdaSchedule schedule{LambdaScheduleKind::kPerEpoch, 0.5};
  EXPECT_EQ(schedule.at(0, 0, 100, 10), 0.0);
  EXPECT_EQ(schedule.at(0, 99, 100, 10), 0.0);  // constant within an epoch
  EXPECT_DOUBLE_EQ(schedule.at(4, 50, 100, 10), 0.5 * 4 / 10);
  EXPECT_DOUBLE_EQ(schedule.at(9, 99, 100, 10), 0.45);
}

TEST(LambdaSchedule, PerIterationRampIsThePapersText) {
  const LambdaSchedule schedule{LambdaScheduleKind::kPerIteration, 1.0};
  EXPECT_EQ(schedule.at(0, 0, 100, 10), 0.0);
  EXPECT_DOUBLE_EQ(schedule.at(0, 50, 100, 10), 50.0 / 1000.0);
  EXPECT_DOUBLE_EQ(schedule.at(9, 99, 100, 10), 999.0 / 1000.0);
}

TEST(LambdaSchedule, ConstantIsLambda0Throughout) {
  const LambdaSchedule schedule{LambdaScheduleKind::kConstant, 0.25};
  EXPECT_EQ(schedule.at(0, 0, 100, 10), 0.25);
  EXPECT_EQ(schedule.at(9, 99, 100, 10), 0.25);
}

TEST(LambdaSchedule, ParsesItsNamesAndRejectsOthers) {
  EXPECT_EQ(parse_lambda_schedule("epoch"), LambdaScheduleKind::kPerEpoch);
  EXPECT_EQ(parse_lambda_schedule("iteration"), LambdaScheduleKind::kPerIteration);
  EXPECT_EQ(parse_lambda_schedule("constant"), LambdaScheduleKind::kConstant);
  EXPECT_THROW(parse_lambda_schedule("linear"), std::invalid_argument);
}

}  // namespace
}  // namespace isda
