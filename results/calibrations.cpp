#include "results/calibrations.h"

#include "common/system.h"

#include <fmt/format.h>

namespace isda::results {

using common::now_seconds;

void record_calibration(ResultsStore& store, const Calibration& c) {
  const std::string purpose = fmt::format("record the calibration of {} at {} px ({}, {}) on {}", c.model, c.resolution,
                                          c.method, c.precision, c.device);
  auto& db = store.database();
  if (!(c.train_images_per_second > 0) || !(c.test_images_per_second > 0)) {
    db.fail(purpose, fmt::format("images per second must be positive, got {} and {}", c.train_images_per_second,
                                 c.test_images_per_second));
  }
  Statement insert(db,
                   "INSERT OR REPLACE INTO calibrations (device, model, resolution, method, precision, batch_size, "
                   "threads, train_images_per_second, test_images_per_second, steps, measured) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   purpose);
  insert.bind(1, c.device).bind(2, c.model).bind(3, c.resolution).bind(4, c.method).bind(5, c.precision);
  insert.bind(6, c.batch_size).bind(7, c.threads).bind(8, c.train_images_per_second).bind(9, c.test_images_per_second);
  insert.bind(10, c.steps).bind(11, c.measured > 0 ? c.measured : now_seconds()).run();
}

std::vector<Calibration> calibrations(ResultsStore& store) {
  Statement query(store.database(),
                  "SELECT device, model, resolution, method, precision, batch_size, threads, train_images_per_second, "
                  "test_images_per_second, steps, measured FROM calibrations ORDER BY device, model, resolution, method, "
                  "precision",
                  "read the calibrations");
  std::vector<Calibration> rows;
  while (query.step()) {
    rows.push_back({query.column_text(0), query.column_text(1), query.column_int(2), query.column_text(3),
                    query.column_text(4), query.column_int(5), query.column_int(6), query.column_double(7),
                    query.column_double(8), query.column_int(9), query.column_double(10)});
  }
  return rows;
}

std::vector<EpochTiming> epoch_timings(ResultsStore& store) {
  Statement query(store.database(),
                  "SELECT r.id, r.config_json, coalesce(p.gpu_model, ''), avg(e.seconds), count(*), "
                  "CASE WHEN r.state = 'done' AND p.ended IS NOT NULL AND p.started IS NOT NULL "
                  "THEN p.ended - p.started - sum(e.seconds) END FROM runs r "
                  "JOIN epochs e ON e.run_id = r.id LEFT JOIN provenance p ON p.run_id = r.id "
                  "WHERE e.seconds > 0 GROUP BY r.id ORDER BY r.id",
                  "read the runs' epoch times");
  std::vector<EpochTiming> rows;
  while (query.step()) {
    rows.push_back({query.column_text(0), query.column_text(1), query.column_text(2), query.column_double(3),
                    query.column_int(4), query.column_double(5)});
  }
  return rows;
}

}  // namespace isda::results
