#include "runner/cost_estimate.h"

#include "data/dataset_sizes.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "runner/progress.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>

namespace isda::runner {
namespace {

// An evaluated image costs about a third of a trained one (a forward pass against forward,
// backward and the update): what scales a measured epoch to another data set size.
constexpr double kEvaluationWeight = 1.0 / 3.0;
int64_t limited(int64_t count, int64_t limit) { return limit > 0 ? std::min(count, limit) : count; }

double work_units(const EpochImages& images) {
  return static_cast<double>(images.train) + kEvaluationWeight * static_cast<double>(images.evaluated);
}

bool is_gpu_device(const std::string& device) { return device.rfind("cuda", 0) == 0; }

// The calibrated training step that stands for a method: ISDA's own, cross-entropy's for the others.
std::string calibrated_method(const std::string& method) { return method == "isda" ? "isda" : "ce"; }

// What a measured run's cost is matched by beside its network: its method, and for ISDA its
// covariance (the full head costs K C A^2 a step, the diagonal C A: ImageNet's full-covariance column
// must not be priced by diagonal runs). "isda" alone is the full covariance.
std::string cost_method(const train::TrainConfig& config) {
  if (config.method == "isda" && config.covariance != "full") return "isda/" + config.covariance;
  return config.method;
}

}  // namespace

std::optional<EpochImages> epoch_images(const train::TrainConfig& config) {
  const auto* size = data::find_dataset_size(config.dataset);
  if (size == nullptr) return std::nullopt;
  EpochImages images;
  images.resolution = config.image_size > 0 ? config.image_size : size->resolution;
  const int64_t train = config.holdout ? size->train - data::kHoldoutValidationImages : size->train;
  images.train = limited(train, config.train_limit);
  if (config.task != "classify") return images;  // a generator run tests nothing after its epochs
  images.evaluated = limited(size->test, config.test_limit);
  if (config.holdout) images.evaluated += limited(data::kHoldoutValidationImages, config.test_limit);
  return images;
}

std::string cost_key(const train::TrainConfig& config) {
  return config.task == "classify" ? config.model : config.task;
}

CostModel::CostModel(std::vector<results::Calibration> calibrations, std::vector<results::EpochTiming> timings,
                     bool on_gpu)
    : calibrations_(std::move(calibrations)), on_gpu_(on_gpu) {
  for (auto& timing : timings) {
    const auto object = nlohmann::json::parse(timing.config_json, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) continue;
    try {
      timing_configs_.push_back(train::config_from_json(object, "run " + timing.run_id));
      timings_.push_back(std::move(timing));
    } catch (const std::exception&) {
      // A run of an older config format: not evidence for this build's runs.
    }
  }
}

CostModel CostModel::from_store(results::ResultsStore* store, bool on_gpu) {
  if (store == nullptr) return CostModel({}, {}, on_gpu);
  return CostModel(calibrations(*store), epoch_timings(*store), on_gpu);
}

bool CostModel::runs_on_gpu(const train::TrainConfig& config) const {
  if (config.device == "cpu") return false;
  if (is_gpu_device(config.device)) return true;
  return on_gpu_;
}

std::optional<EpochCost> CostModel::measured(const train::TrainConfig& config, const EpochImages& images,
                                             bool same_method) const {
  double seconds_per_unit = 0, overhead = 0;
  int64_t runs = 0, overheads = 0;
  for (size_t i = 0; i < timings_.size(); ++i) {
    const auto& other = timing_configs_[i];
    if (cost_key(other) != cost_key(config) || (cost_method(other) == cost_method(config)) != same_method) continue;
    if (!timings_[i].gpu_model.empty() != runs_on_gpu(config)) continue;
    const auto other_images = epoch_images(other);
    if (!other_images || other_images->resolution != images.resolution || work_units(*other_images) <= 0) continue;
    // One device's seconds per unit: that run's epochs were shared by its ranks.
    seconds_per_unit += timings_[i].seconds_per_epoch * static_cast<double>(other.ranks) / work_units(*other_images);
    ++runs;
    if (!std::isnan(timings_[i].overhead_seconds)) {
      overhead += std::max(0.0, timings_[i].overhead_seconds);
      ++overheads;
    }
  }
  if (runs == 0) return std::nullopt;
  const auto method = same_method ? cost_method(config) : "another method";
  return EpochCost{seconds_per_unit / static_cast<double>(runs) * work_units(images) / static_cast<double>(config.ranks),
                   overheads > 0 ? overhead / static_cast<double>(overheads) : 0.0,
                   fmt::format("measured: {} run{} of {} ({})", runs, runs == 1 ? "" : "s", cost_key(config), method)};
}

std::optional<EpochCost> CostModel::calibrated(const train::TrainConfig& config, const EpochImages& images,
                                               bool same_method) const {
  const results::Calibration* best = nullptr;
  const bool gpu = runs_on_gpu(config);
  const auto precision = gpu ? config.precision : "fp32";
  for (const auto& c : calibrations_) {
    if (c.model != cost_key(config) || c.resolution != images.resolution || c.precision != precision) continue;
    if (is_gpu_device(c.device) != gpu) continue;
    if ((c.method == calibrated_method(config.method)) != same_method) continue;
    if (best == nullptr || c.measured > best->measured) best = &c;  // the newest
  }
  if (best == nullptr) return std::nullopt;
  const double seconds = (static_cast<double>(images.train) / best->train_images_per_second +
                          static_cast<double>(images.evaluated) / best->test_images_per_second) /
                         static_cast<double>(config.ranks);
  return EpochCost{seconds, 0.0, fmt::format("calibrated: {} ({}, {}, {} px, batch {})", best->device, best->method,
                                        best->precision, best->resolution, best->batch_size)};
}

std::optional<EpochCost> CostModel::epoch_cost(const train::TrainConfig& config) const {
  const auto images = epoch_images(config);
  if (!images) return std::nullopt;
  if (auto cost = measured(config, *images, true)) return cost;
  if (auto cost = calibrated(config, *images, true)) return cost;
  if (auto cost = measured(config, *images, false)) return cost;
  return calibrated(config, *images, false);
}

StageEstimate estimate_stage(const std::string& name, const std::vector<RunToEstimate>& runs, const CostModel& model,
                             int64_t slots) {
  StageEstimate stage;
  stage.name = name;
  std::vector<WideRun> durations;
  for (const auto& run : runs) {
    ++stage.runs;
    stage.epochs += run.epochs_left;
    const auto cost = model.epoch_cost(*run.config);
    if (!cost) {
      ++stage.runs_without_cost;
      const auto images = epoch_images(*run.config);
      const auto key = cost_key(*run.config);
      stage.models_without_cost.insert(images ? fmt::format("{} at {} px ({})", key, images->resolution, run.config->method)
                                              : fmt::format("{} on {} (unknown size)", key, run.config->dataset));
      continue;
    }
    stage.sources.insert(cost->source);
    const WideRun wide{cost->seconds * static_cast<double>(run.epochs_left) + cost->run_overhead, run.config->ranks};
    durations.push_back(wide);
    stage.device_seconds += wide.seconds * static_cast<double>(wide.slots);
  }
  std::stable_sort(durations.begin(), durations.end(),
                   [](const WideRun& a, const WideRun& b) { return a.seconds > b.seconds; });  // longest first
  stage.wall_seconds = list_schedule(std::vector<double>(static_cast<size_t>(std::max<int64_t>(1, slots)), 0.0), durations);
  return stage;
}

double list_schedule(std::vector<double> slot_loads, const std::vector<double>& runs) {
  std::vector<WideRun> wide;
  for (const double seconds : runs) wide.push_back({seconds, 1});
  return list_schedule(std::move(slot_loads), wide);
}

double list_schedule(std::vector<double> slot_loads, const std::vector<WideRun>& runs) {
  if (slot_loads.empty()) slot_loads.push_back(0);
  for (const auto& run : runs) {
    const auto width = static_cast<size_t>(std::clamp<int64_t>(run.slots, 1, static_cast<int64_t>(slot_loads.size())));
    std::vector<size_t> order(slot_loads.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slot_loads[a] < slot_loads[b]; });
    const double start = slot_loads[order[width - 1]];  // when the last of the `width` freest slots frees
    for (size_t k = 0; k < width; ++k) slot_loads[order[k]] = start + run.seconds;
  }
  return *std::max_element(slot_loads.begin(), slot_loads.end());
}

void print_estimates(const std::vector<StageEstimate>& stages, const std::string& slots_text, std::ostream& out) {
  out << fmt::format("estimate ({}):\n", slots_text);
  double device = 0, wall = 0;
  int64_t runs = 0, epochs = 0, unknown = 0;
  std::set<std::string> sources, models;
  for (const auto& stage : stages) {
    if (stage.runs == 0) continue;
    const bool none_known = stage.runs_without_cost == stage.runs;
    out << fmt::format("  {}: {} runs, {} epochs, device time {}, wall time {}{}\n", stage.name, stage.runs,
                       stage.epochs, none_known ? "unknown" : format_duration(stage.device_seconds),
                       none_known ? "unknown" : format_duration(stage.wall_seconds),
                       stage.runs_without_cost > 0 ? fmt::format(" (without {} runs of unknown cost)", stage.runs_without_cost)
                                                   : "");
    device += stage.device_seconds;
    wall += stage.wall_seconds;  // stages run one after the other
    runs += stage.runs;
    epochs += stage.epochs;
    unknown += stage.runs_without_cost;
    sources.insert(stage.sources.begin(), stage.sources.end());
    models.insert(stage.models_without_cost.begin(), stage.models_without_cost.end());
  }
  const bool none_known = runs > 0 && unknown == runs;
  out << fmt::format("  total: {} runs, {} epochs, device time {}, wall time {}{}\n", runs, epochs,
                     none_known ? "unknown" : format_duration(device), none_known ? "unknown" : format_duration(wall),
                     unknown > 0 ? fmt::format(" (without {} runs of unknown cost)", unknown) : "");
  for (const auto& source : sources) out << "  from " << source << '\n';
  for (const auto& model : models) {
    out << fmt::format("  no calibration or measured epochs for {}: run isda-bench calibrate --models {} (or a "
                       "smoke run of it) first\n",
                       model, model.substr(0, model.find(' ')));
  }
}

namespace {

// Epochs a run has left: all of them when new or pending, none when done.
int64_t epochs_left(const PlannedRun& run, results::ResultsStore* store) {
  if (store == nullptr) return run.config.epochs;
  const auto info = find_run(*store, run.id);
  if (!info) return run.config.epochs;
  if (info->state == results::RunState::done) return 0;
  const auto logged = static_cast<int64_t>(epochs_of(*store, run.id).size());
  return std::max<int64_t>(0, run.config.epochs - logged);
}

}  // namespace

void print_sweep_estimate(const SweepOptions& options, const Spec& spec, const SweepPlan& plan,
                          const std::vector<PlannedRun>& final_runs, results::ResultsStore* store, std::ostream& out) {
  const bool on_gpu = !options.gpus.empty() && options.slurm_array_limit < 0;
  const int64_t all_runs = static_cast<int64_t>(final_runs.size() + plan.runs.size());
  int64_t slots = 0;
  std::string slots_text;
  if (options.slurm_array_limit >= 0) {
    slots = options.slurm_array_limit > 0 ? options.slurm_array_limit : all_runs;
    slots_text = options.slurm_array_limit > 0 ? fmt::format("Slurm, at most {} tasks at once", slots)
                                               : std::string("Slurm, no array limit: every task at once");
  } else if (on_gpu) {
    slots = static_cast<int64_t>(options.gpus.size());
    slots_text = fmt::format("{} GPU{}, {} per GPU; packing assumed to add no throughput", slots, slots == 1 ? "" : "s",
                             options.per_gpu);
  } else {
    slots = options.cpu_slots;
    slots_text = fmt::format("{} CPU slot{}", slots, slots == 1 ? "" : "s");
  }
  const auto model = CostModel::from_store(store, on_gpu);
  std::set<std::string> decided, search_ids;
  for (const auto& choice : plan.choices) decided.insert(choice.group_key);
  const auto groups = lambda0_groups(spec, final_runs);
  std::vector<RunToEstimate> search, finals;
  for (const auto& group : groups) {
    for (const auto& run : group.search_runs) {
      search_ids.insert(run.id);
      if (const auto left = epochs_left(run, store); left > 0) search.push_back({&run.config, left});
    }
    if (decided.count(group.key.dump()) > 0) continue;
    for (const auto i : group.final_runs) finals.push_back({&final_runs[i].config, final_runs[i].config.epochs});
  }
  for (const auto& run : plan.runs) {
    if (search_ids.count(run.id) > 0) continue;
    if (const auto left = epochs_left(run, store); left > 0) finals.push_back({&run.config, left});
  }
  print_estimates({estimate_stage("lambda0 search", search, model, slots), estimate_stage("final runs", finals, model, slots)},
                  slots_text, out);
}

}  // namespace isda::runner
