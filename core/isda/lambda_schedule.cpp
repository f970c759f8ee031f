#include "isda/lambda_schedule.h"

#include "train/config_names.h"

#include <stdexcept>

namespace isda {

static_assert(static_cast<size_t>(LambdaScheduleKind::kConstant) + 1 == train::names::kLambdaSchedules.size(),
              "LambdaScheduleKind lists the names of train/config_names.h in their order");

LambdaScheduleKind parse_lambda_schedule(const std::string& name) {
  return train::names::parse_named<LambdaScheduleKind>(train::names::kLambdaSchedules, name, "lambda schedule");
}

std::string to_string(LambdaScheduleKind kind) { return train::names::name_of(train::names::kLambdaSchedules, kind); }

double LambdaSchedule::at(int64_t epoch, int64_t iteration, int64_t iterations_per_epoch, int64_t epochs) const {
  switch (kind) {
    case LambdaScheduleKind::kConstant: return lambda0;
    case LambdaScheduleKind::kPerEpoch:
      return epochs > 0 ? lambda0 * static_cast<double>(epoch) / static_cast<double>(epochs) : 0.0;
    case LambdaScheduleKind::kPerIteration: {
      const double total = static_cast<double>(epochs) * static_cast<double>(iterations_per_epoch);
      const double t = static_cast<double>(epoch) * static_cast<double>(iterations_per_epoch) +
                       static_cast<double>(iteration);
      return total > 0 ? lambda0 * t / total : 0.0;
    }
  }
  return lambda0;
}

}  // namespace isda
