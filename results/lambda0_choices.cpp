#include "results/lambda0_choices.h"

#include "common/system.h"

#include <fmt/format.h>

namespace isda::results {

using common::now_seconds;

Lambda0Choice record_lambda0_choice(ResultsStore& store, int64_t sweep_id, const Lambda0Choice& choice) {
  const std::string purpose = fmt::format("record the lambda0 choice of sweep {} for {}", sweep_id, choice.group_key);
  auto& db = store.database();
  Transaction transaction(db, purpose);
  Statement insert(db,
                   "INSERT OR IGNORE INTO lambda0_choices (sweep_id, group_key, lambda0, metric, evidence, decided) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   purpose);
  insert.bind(1, sweep_id).bind(2, choice.group_key).bind(3, choice.lambda0).bind(4, choice.metric);
  insert.bind(5, choice.evidence).bind(6, now_seconds()).run();
  transaction.commit();
  for (auto& recorded : lambda0_choices(store, sweep_id)) {
    if (recorded.group_key == choice.group_key) return recorded;
  }
  db.fail(purpose, "the choice was not recorded");
}

std::vector<Lambda0Choice> lambda0_choices(ResultsStore& store, int64_t sweep_id) {
  Statement query(store.database(),
                  "SELECT group_key, lambda0, metric, evidence, decided FROM lambda0_choices WHERE sweep_id = ? "
                  "ORDER BY group_key",
                  fmt::format("read the lambda0 choices of sweep {}", sweep_id));
  query.bind(1, sweep_id);
  std::vector<Lambda0Choice> choices;
  while (query.step()) {
    choices.push_back({query.column_text(0), query.column_double(1), query.column_text(2), query.column_text(3),
                       query.column_double(4)});
  }
  return choices;
}

}  // namespace isda::results
