#include "runner/sweep_view.h"

#include "results/run_ledger.h"
#include "runner/gpu_use.h"

#include <fmt/format.h>

#include <algorithm>

namespace isda::runner {

SweepView::SweepView(const SweepOptions& options, results::ResultsStore& store, ProgressDisplay& display, size_t slots)
    : options_(options), store_(store), display_(display), slots_(slots), started_(Clock::now()) {}

void SweepView::set_plan(const SweepPlan& plan) {
  plan_ = &plan;
  config_of_run_.clear();  // the previous stage's plan is gone
  for (const auto& run : plan.runs) {
    config_of_run_[run.id] = &run.config;
    epochs_of_run_[run.id] = run.config.epochs;
    what_of_run_[run.id] = run.varying;
  }
}

int64_t SweepView::epochs_of(const std::string& run_id) const {
  const auto found = epochs_of_run_.find(run_id);
  return found == epochs_of_run_.end() ? 0 : found->second;
}

const std::string& SweepView::what_of(const std::string& run_id) const {
  static const std::string none;
  const auto found = what_of_run_.find(run_id);
  return found == what_of_run_.end() ? none : found->second;
}

void SweepView::epoch_measured(double seconds) {
  epoch_seconds_sum_ += seconds;
  ++epoch_seconds_count_;
}

void SweepView::log(const std::string& text) {
  const auto counts = counts_by_state(store_, plan_->sweep_id);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  display_.event(fmt::format("isda-run: [{} done, {} running, {} failed, {} pending, {}] {}", counts.done, counts.running,
                             counts.failed, counts.pending + counts.interrupted, format_duration(elapsed), text));
}

void SweepView::refresh(const std::vector<Running>& running, const std::deque<std::string>& queue) {
  const auto now = Clock::now();
  if (!options_.gpus.empty() && now - last_gpu_query_ > gpu_query_interval_) {
    gpu_use_ = query_gpu_use();
    last_gpu_query_ = now;
    // A hung nvidia-smi costs its whole time limit: ask it far less often while it is slow.
    gpu_query_interval_ = Clock::now() - now > std::chrono::seconds(1) ? std::chrono::seconds(60) : std::chrono::seconds(5);
    if (!display_.live() && now - last_gpu_log_ > std::chrono::minutes(1)) {
      for (const auto& line : gpu_use_) log(line);
      last_gpu_log_ = now;
    }
  }
  if (display_.live()) display_.update(snapshot(running, queue));
}

ProgressSnapshot SweepView::snapshot(const std::vector<Running>& running, const std::deque<std::string>& queue) {
  ProgressSnapshot p;
  p.sweep = plan_->name;
  p.counts = counts_by_state(store_, plan_->sweep_id);
  p.waiting = plan_->waiting_runs;
  p.elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  for (const auto& r : running) {
    p.active.push_back({r.where, r.run_id, what_of(r.run_id), r.last_epoch, epochs_of(r.run_id), r.seconds_per_epoch});
  }
  p.eta = eta(running, queue);
  p.gpu_use = gpu_use_;
  return p;
}

// Seconds per epoch of a run: its own last epoch's once it has one, else the cost model's estimate
// (runner/cost_estimate.h: earlier runs of the same model, or a calibration), else the mean epoch
// of this sweep so far; 0 when none is known.
double SweepView::seconds_per_epoch_of(const std::string& id, double measured) {
  if (measured > 0) return measured;
  const auto now = Clock::now();
  if (!cost_model_ || now - cost_model_built_ > std::chrono::seconds(60)) {  // takes in the epochs since
    cost_model_.emplace(CostModel::from_store(&store_, !options_.gpus.empty()));
    cost_model_built_ = now;
  }
  if (const auto found = config_of_run_.find(id); found != config_of_run_.end()) {
    if (const auto cost = cost_model_->epoch_cost(*found->second)) return cost->seconds;
  }
  return epoch_seconds_count_ > 0 ? epoch_seconds_sum_ / static_cast<double>(epoch_seconds_count_) : 0;
}

// The ETA: the running runs' rest, then the queue in order on the slot that frees first, then the
// runs waiting for their lambda0; negative when a run's epoch time is unknown.
double SweepView::eta(const std::vector<Running>& running, const std::deque<std::string>& queue) {
  std::vector<double> loads(slots_, 0.0);
  for (const auto& r : running) {
    const double seconds = seconds_per_epoch_of(r.run_id, r.seconds_per_epoch);
    if (!(seconds > 0)) return -1;
    const double rest = seconds * static_cast<double>(std::max<int64_t>(0, epochs_of(r.run_id) - r.last_epoch));
    for (const auto slot : r.slots) loads[slot] = rest;  // a data-parallel run holds all its slots
  }
  std::vector<WideRun> runs;
  double known = 0;
  for (const auto& id : queue) {
    const double seconds = seconds_per_epoch_of(id, 0);
    if (!(seconds > 0)) return -1;
    const auto config = config_of_run_.find(id);
    runs.push_back({seconds * static_cast<double>(epochs_of(id)), config != config_of_run_.end() ? config->second->ranks : 1});
    known += runs.back().seconds;
  }
  if (plan_->waiting_runs > 0) {  // like the runs known so far, on average
    if (runs.empty()) return -1;
    for (int64_t i = 0; i < plan_->waiting_runs; ++i) runs.push_back({known / static_cast<double>(queue.size()), 1});
  }
  return list_schedule(loads, runs);
}

}  // namespace isda::runner
