#include "isda/lambda_schedule.h"

#include <stdexcept>

namespace isda {

LambdaScheduleKind parse_lambda_schedule(const std::string& name) {
  if (name == "epoch") return LambdaScheduleKind::kPerEpoch;
  if (name == "iteration") return LambdaScheduleKind::kPerIteration;
  if (name == "constant") return LambdaScheduleKind::kConstant;
  throw std::invalid_argument("unknown lambda schedule \"" + name + "\" (known: epoch, iteration, constant)");
}

std::string to_string(LambdaScheduleKind kind) {
  switch (kind) {
    case LambdaScheduleKind::kPerEpoch: return "epoch";
    case LambdaScheduleKind::kPerIteration: return "iteration";
    case LambdaScheduleKind::kConstant: return "constant";
  }
  return "?";
}

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
