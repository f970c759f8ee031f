#include "train/checkpoint.h"

#include "distributed/sharded_estimator.h"

#include "train/run_directory.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <sstream>

namespace isda::train {
namespace {

std::string tensor_to_string(const torch::Tensor& bytes) {
  const auto contiguous = bytes.contiguous();
  return std::string(reinterpret_cast<const char*>(contiguous.data_ptr<uint8_t>()), static_cast<size_t>(contiguous.numel()));
}

torch::Tensor string_to_tensor(const std::string& text) {
  auto t = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), text.data(), text.size());
  return t;
}

}  // namespace

void write_checkpoint_meta(torch::serialize::OutputArchive& archive, const nlohmann::json& meta) {
  archive.write("meta", string_to_tensor(meta.dump()));
}

nlohmann::json read_checkpoint_meta(torch::serialize::InputArchive& archive) {
  torch::Tensor bytes;
  archive.read("meta", bytes);
  return nlohmann::json::parse(tensor_to_string(bytes));
}

void check_same_config(const nlohmann::json& saved, const TrainConfig& current, const std::string& path) {
  const auto wanted = to_json(current);
  for (const auto& item : wanted.items()) {
    if (is_execution_key(item.key())) continue;
    if (!saved.contains(item.key()) || saved.at(item.key()) != item.value()) {
      throw CheckpointError(fmt::format("{}: written by another config ({} is {} there, {} here)", path, item.key(),
                                        saved.contains(item.key()) ? saved.at(item.key()).dump() : "absent",
                                        item.value().dump()));
    }
  }
}

void save_checkpoint_parts(torch::serialize::OutputArchive& archive, const CheckpointParts& parts) {
  torch::serialize::OutputArchive model_archive;
  parts.model.save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  parts.optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  torch::serialize::OutputArchive state_archive;
  if (parts.estimator) parts.estimator->save(state_archive);
  if (parts.sharded_estimator) parts.sharded_estimator->save(state_archive);
  if (parts.comparison) parts.comparison->save(state_archive);
  parts.augmenter.save(state_archive);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    state_archive.write("cpu_rng", generator.get_state());
  }
  if (parts.rank_cpu_rng.defined()) state_archive.write("rank_cpu_rng", parts.rank_cpu_rng);
  archive.write("state", state_archive);
}

void load_checkpoint_parts(torch::serialize::InputArchive& archive, const CheckpointParts& parts) {
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  parts.model.load(model_archive);
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  parts.optimizer.load(optimizer_archive);
  torch::serialize::InputArchive state_archive;
  archive.read("state", state_archive);
  if (parts.estimator) {
    torch::Tensor shards;
    if (state_archive.try_read("isda.shards", shards)) {
      throw std::runtime_error("its ISDA estimator is sharded by class across the ranks: resume with estimator_sharding auto");
    }
    parts.estimator->load(state_archive);
  }
  if (parts.sharded_estimator) parts.sharded_estimator->load(state_archive);
  if (parts.comparison) parts.comparison->load(state_archive);
  parts.augmenter.load(state_archive);
  torch::Tensor rng;
  state_archive.read("cpu_rng", rng);
  torch::Tensor rank_rng;
  if (state_archive.try_read("rank_cpu_rng", rank_rng) && parts.rank < rank_rng.size(0)) rng = rank_rng[parts.rank];
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(rng);
}

std::string serialize_checkpoint(const nlohmann::json& meta, const CheckpointParts& parts) {
  torch::serialize::OutputArchive archive;
  write_checkpoint_meta(archive, meta);
  save_checkpoint_parts(archive, parts);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

void open_checkpoint(const std::string& payload, const std::string& path,
                     const std::function<void(const nlohmann::json& meta, torch::serialize::InputArchive& archive)>& read,
                     const std::optional<torch::Device>& map_location) {
  try {
    std::istringstream bytes(payload);
    torch::serialize::InputArchive archive;
    archive.load_from(bytes, map_location ? c10::optional<torch::Device>(*map_location) : c10::nullopt);
    read(read_checkpoint_meta(archive), archive);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string message = e.what();
    throw CheckpointError(path + ": unreadable (" + message.substr(0, message.find('\n')) + ")");
  }
}

nlohmann::json restore_checkpoint(const std::string& payload, const CheckpointParts& parts, const std::string& path,
                                  const std::function<void(const nlohmann::json&)>& check_meta) {
  nlohmann::json meta;
  open_checkpoint(payload, path, [&](const nlohmann::json& read_meta, torch::serialize::InputArchive& archive) {
    if (check_meta) check_meta(read_meta);
    load_checkpoint_parts(archive, parts);
    meta = read_meta;
  });
  return meta;
}

}  // namespace isda::train
