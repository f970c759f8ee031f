#pragma once
// What a sweep will cost before it runs: per run, seconds per epoch from the results store, either
// measured (the epochs of earlier runs of the same model) or calibrated (`isda-bench calibrate`:
// images per second per device, model, resolution, method, precision); per stage, the runs, the
// epochs, the device time and the wall time on the chosen slots. A model with neither is named,
// never guessed. Used by `isda-run --dry-run` and the progress ETA. No LibTorch.

#include "results/calibrations.h"
#include "results/store.h"
#include "runner/coordinator.h"
#include "runner/sweep.h"
#include "train/train_config.h"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace isda::runner {

// The images one epoch of a run touches, from its data set and limits.
struct EpochImages {
  int64_t resolution = 0;  // image side in pixels (image folders: image_size, else 224)
  int64_t train = 0;       // trained on
  int64_t evaluated = 0;   // tested (and validated, with a hold-out) after the epoch; 0 for a generator run
};
// nullopt for a data set of unknown size.
std::optional<EpochImages> epoch_images(const train::TrainConfig& config);

// What a run's cost is looked up by: its network, or for a generator run (task wgan, cgan, ...) its
// task, whose networks are fixed; never a classifier's time for a generator's or the reverse.
std::string cost_key(const train::TrainConfig& config);

struct EpochCost {
  double seconds = 0;       // per epoch of the run as configured: with ranks R, wall time on its R devices
  double run_overhead = 0;  // per run, outside its epochs (start, data loading); 0 from a calibration
  std::string source;  // "measured: 3 runs of resnet8 (isda)", "calibrated: cpu: ... (isda, fp32, 2 threads)"
};

class CostModel {
 public:
  // `on_gpu`: whether runs with device "auto" will run on a GPU.
  CostModel(std::vector<results::Calibration> calibrations, std::vector<results::EpochTiming> timings, bool on_gpu);
  // From the store (an empty model without one). Throws results::StoreError.
  static CostModel from_store(results::ResultsStore* store, bool on_gpu);

  // Seconds per epoch of a run, in this order of preference: measured runs of the same cost_key,
  // resolution, method and device kind; a calibration of them; measured runs of the key with
  // another method; a calibration with another method. A measured run's time is scaled by the
  // images per epoch, an evaluated image counting a third of a trained one, and by its ranks: R
  // ranks share an epoch's images, so an epoch takes 1/R of one device's time (communication not
  // counted). nullopt when none fits.
  std::optional<EpochCost> epoch_cost(const train::TrainConfig& config) const;

 private:
  bool runs_on_gpu(const train::TrainConfig& config) const;
  std::optional<EpochCost> measured(const train::TrainConfig& config, const EpochImages& images, bool same_method) const;
  std::optional<EpochCost> calibrated(const train::TrainConfig& config, const EpochImages& images, bool same_method) const;

  std::vector<results::Calibration> calibrations_;
  std::vector<results::EpochTiming> timings_;
  std::vector<train::TrainConfig> timing_configs_;  // parsed once, parallel to timings_
  bool on_gpu_;
};

// One stage of a sweep (the lambda0 search, the final runs): the runs left to do and what they cost.
struct StageEstimate {
  std::string name;
  int64_t runs = 0;
  int64_t epochs = 0;              // epochs left
  double device_seconds = 0;       // of the runs with a known cost, one after another
  double wall_seconds = 0;         // spread over `slots` (longest first), of the runs with a known cost
  int64_t runs_without_cost = 0;
  std::set<std::string> models_without_cost;  // named, not guessed
  std::set<std::string> sources;
};

struct RunToEstimate {
  const train::TrainConfig* config = nullptr;
  int64_t epochs_left = 0;
};

// When the last of `runs` (seconds each, started in this order, each on the slot that frees first)
// ends, with the slots already busy for `slot_loads` seconds. 0 for no runs.
double list_schedule(std::vector<double> slot_loads, const std::vector<double>& runs);

// A run that holds `slots` slots at once (a data-parallel run: one per rank) for `seconds`.
struct WideRun {
  double seconds = 0;
  int64_t slots = 1;
};
// The same for runs of any width: each starts on the `slots` slots that free first, when the last of
// them frees (all of them when it needs more slots than there are).
double list_schedule(std::vector<double> slot_loads, const std::vector<WideRun>& runs);

// `slots`: runs executing at once (CPU slots, GPUs, a Slurm array limit); runs in a slot one after
// another, longest first onto the least loaded slot; a run of R ranks holds R slots, and its device
// time counts R devices.
StageEstimate estimate_stage(const std::string& name, const std::vector<RunToEstimate>& runs, const CostModel& model,
                             int64_t slots);

// The lines --dry-run prints: one per stage and a total, then the sources and the models without a
// cost ("no calibration or measured epochs for model wrn28_10 at 32 px: run isda-bench calibrate ...").
void print_estimates(const std::vector<StageEstimate>& stages, const std::string& slots_text, std::ostream& out);

// --dry-run's estimate of a planned sweep: the lambda0 search (lambda0_groups' search runs) and the
// final runs (the plan's others, and those of `final_runs`, expand()'s result, that still wait for
// their group's lambda0), less what the store has done, on the slots `options` chooses: its GPUs (runs packed K
// per GPU are assumed to gain no throughput), its CPU slots, or a Slurm array limit.
void print_sweep_estimate(const SweepOptions& options, const Spec& spec, const SweepPlan& plan,
                          const std::vector<PlannedRun>& final_runs, results::ResultsStore* store, std::ostream& out);

}  // namespace isda::runner
