#include "common/run_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace isda::events {
namespace {

using ::testing::HasSubstr;

nlohmann::json parse(const std::string& line) { return parse_record(line.data(), line.data() + line.size(), "log", 7); }

TEST(RunEvents, ParsesARecord) {
  const auto record = parse(R"({"event":"failed","reason":"x","fault":"environment","exit_code":8})");
  EXPECT_EQ(record.at(kEvent), kFailed);
  EXPECT_EQ(fault_from_string(record.at(kFault)), Fault::environment);
}

TEST(RunEvents, ALineThatIsNotARecordNamesTheFileAndLine) {
  for (const std::string line : {"{\"event\":", "[1,2]", "{\"epoch\":3}", "{\"event\":3}", "garbage"}) {
    try {
      parse(line);
      FAIL() << line;
    } catch (const EventLogError& e) {
      EXPECT_THAT(e.what(), HasSubstr("log: line 7 is not")) << line;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
  }
}

TEST(RunEvents, FaultsRoundTripAndUnknownOnesAreTheRuns) {
  EXPECT_EQ(fault_from_string(to_string(Fault::environment)), Fault::environment);
  EXPECT_EQ(fault_from_string(to_string(Fault::run)), Fault::run);
  EXPECT_EQ(fault_from_string(""), Fault::run);  // logs of older versions say nothing
}

}  // namespace
}  // namespace isda::events
