#include "common/run_events.h"

namespace isda::events {

const char* to_string(Fault fault) { return fault == Fault::environment ? "environment" : "run"; }

Fault fault_from_string(const std::string& name) { return name == "environment" ? Fault::environment : Fault::run; }

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

}  // namespace isda::events
