#pragma once
// The strength lambda of ISDA's augmentation over training (paper Sec. 3.3, facts file §2).

#include <cstdint>
#include <string>

namespace isda {

enum class LambdaScheduleKind {
  kPerEpoch,      // lambda0 * epoch / epochs, 0-indexed epochs: the authors' code
  kPerIteration,  // lambda0 * t / T over iterations: the paper's text
  kConstant,      // lambda0 at every step: the Table 5 ablation
};

// "epoch", "iteration", "constant". Throws std::invalid_argument naming the value.
LambdaScheduleKind parse_lambda_schedule(const std::string& name);
std::string to_string(LambdaScheduleKind kind);

struct LambdaSchedule {
  LambdaScheduleKind kind = LambdaScheduleKind::kPerEpoch;
  double lambda0 = 0.5;  // the authors' default; the paper searches {0.1, 0.25, 0.5, 0.75, 1}

  // lambda at iteration `iteration` (0-based) of epoch `epoch` (0-based) of a run of `epochs`
  // epochs with `iterations_per_epoch` steps each.
  double at(int64_t epoch, int64_t iteration, int64_t iterations_per_epoch, int64_t epochs) const;
};

}  // namespace isda
