#pragma once
// The lambda0 chosen for each group of a sweep's runs by its hold-out search (the two-stage
// protocol of runner/spec.h), table `lambda0_choices`. The runner records a choice once the
// search's runs are done and reads it back to register the final runs.
//
// Every function throws StoreError (results/sqlite.h) for a database failure, naming the database
// file and what was being done.

#include "results/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace isda::results {

struct Lambda0Choice {
  std::string group_key;  // canonical JSON of the group's keys, e.g. {"dataset":"cifar10","model":"resnet32"}
  double lambda0 = 0;
  std::string metric;     // what was minimised, e.g. last10_validation_error
  std::string evidence;   // JSON: per candidate, the search runs' ids and metric values and their mean
  double decided = 0;
};

// Records a sweep's lambda0 choice for a group (`decided` is now; the given one is ignored) and
// returns the choice stored: a group already decided keeps its first choice, so a rerun never
// changes a choice that final runs were started with. StoreError for an unknown sweep.
Lambda0Choice record_lambda0_choice(ResultsStore& store, int64_t sweep_id, const Lambda0Choice& choice);

// The sweep's choices, by group key; empty before the first.
std::vector<Lambda0Choice> lambda0_choices(ResultsStore& store, int64_t sweep_id);

}  // namespace isda::results
