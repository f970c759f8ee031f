#include "common/run_events.h"

namespace isda::events {

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::environment: return "environment";
    case Fault::hang: return "hang";
    case Fault::stalled: return "stalled";
    case Fault::run: break;
  }
  return "run";
}

Fault fault_from_string(const std::string& name) {
  for (const auto fault : {Fault::environment, Fault::hang, Fault::stalled}) {
    if (name == to_string(fault)) return fault;
  }
  return Fault::run;
}

nlohmann::json parse_record(const char* first, const char* last, const std::string& file, int64_t line_number) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(first, last);
  } catch (const nlohmann::json::exception& e) {
    std::string why = e.what();
    throw EventLogError(file + ": line " + std::to_string(line_number) + " is not JSON (" + why.substr(0, why.find('\n')) +
                        ")");
  }
  const auto kind = record.is_object() ? record.find(kEvent) : record.end();
  if (!record.is_object() || kind == record.end() || !kind->is_string()) {
    throw EventLogError(file + ": line " + std::to_string(line_number) +
                        " is not an event (an object with a string \"event\")");
  }
  return record;
}

nlohmann::json interrupted_record(int signal, int64_t epoch, int64_t step) {
  return {{kEvent, kInterrupted}, {kSignal, signal}, {kEpoch, epoch}, {kStep, step}};
}

nlohmann::json to_json(const Environment& e) {
  return {{"host", e.host},         {"git_commit", e.git_commit}, {"git_dirty", e.git_dirty}, {"libtorch", e.libtorch},
          {"cuda", e.cuda},         {"cudnn", e.cudnn},           {"gpu_model", e.gpu_model}, {"driver", e.driver}};
}

Environment environment_from_json(const nlohmann::json& object) {
  Environment e;
  if (!object.is_object()) return e;
  const auto text = [&object](const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  e.host = text("host");
  e.git_commit = text("git_commit");
  const auto dirty = object.find("git_dirty");
  e.git_dirty = dirty != object.end() && dirty->is_boolean() && dirty->get<bool>();
  e.libtorch = text("libtorch");
  e.cuda = text("cuda");
  e.cudnn = text("cudnn");
  e.gpu_model = text("gpu_model");
  e.driver = text("driver");
  return e;
}

}  // namespace isda::events
