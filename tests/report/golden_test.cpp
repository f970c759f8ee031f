// Golden files: every format's exact output for the example store. After an intended change,
// regenerate them with ISDA_UPDATE_GOLDEN=1 (tests/README.md) and review the diff.
#include "report/report_command.h"

#include "example_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#ifndef ISDA_REPORT_GOLDEN_DIR
#error "ISDA_REPORT_GOLDEN_DIR must name tests/report/golden"
#endif

namespace isda::report {
namespace {

struct GoldenCase {
  const char* file;
  std::vector<std::string> args;
  bool terminal = false;
};

const GoldenCase kCases[] = {
    {"table5.txt", {"--table", "5"}},
    {"table5_ansi.txt", {"--table", "5"}, true},
    {"table5.md", {"--table", "5", "--format", "markdown"}},
    {"table5.tex", {"--table", "5", "--format", "latex"}},
    {"table3.txt", {"--table", "3"}},
    {"table3.md", {"--table", "3", "--format", "markdown"}},
    {"table3.tex", {"--table", "3", "--format", "latex"}},
    {"tables.csv", {"--format", "csv"}},
    {"figure2.txt", {"--figure", "2"}},
    {"figure2.md", {"--figure", "2", "--format", "markdown"}},
    {"figure2.csv", {"--figure", "2", "--format", "csv"}},
    {"report.html", {"--format", "html"}},
};

// Names the case in test output (gtest would print its bytes).
void PrintTo(const GoldenCase& golden, std::ostream* out) { *out << golden.file; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first line that differs, for a readable failure.
std::string first_difference(const std::string& expected, const std::string& actual) {
  const auto a = lines_of(expected);
  const auto b = lines_of(actual);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const auto left = i < a.size() ? a[i] : "(end of file)";
    const auto right = i < b.size() ? b[i] : "(end of output)";
    if (left != right) return "line " + std::to_string(i + 1) + ":\n  golden: " + left + "\n  actual: " + right;
  }
  return "(only the last newline differs)";
}

class ReportGolden : public ::testing::TestWithParam<GoldenCase> {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new testing::ScratchDir;
    testing::build_example_store(scratch_->file("isda.db"), scratch_->file("logs"));
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  static testing::ScratchDir* scratch_;
};
testing::ScratchDir* ReportGolden::scratch_ = nullptr;

TEST_P(ReportGolden, MatchesTheGoldenFile) {
  const auto& golden = GetParam();
  auto args = golden.args;
  const auto db = scratch_->file("isda.db");
  args.insert(args.end(), {"--db", db});
  std::ostringstream out, err;
  ASSERT_EQ(report_command(args, out, err, golden.terminal), 0) << err.str();
  auto actual = out.str();
  for (auto at = actual.find(db); at != std::string::npos; at = actual.find(db)) actual.replace(at, db.size(), "STORE");

  const auto path = std::string(ISDA_REPORT_GOLDEN_DIR) + "/" + golden.file;
  if (const char* update = std::getenv("ISDA_UPDATE_GOLDEN"); update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; run with ISDA_UPDATE_GOLDEN=1 to create it";
  const auto expected = read_file(path);
  EXPECT_TRUE(expected == actual) << golden.file << " differs at " << first_difference(expected, actual)
                                  << "\n(if the change is intended: ISDA_UPDATE_GOLDEN=1, then review the diff)";
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = info.param.file;
  for (auto& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryFormat, ReportGolden, ::testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace isda::report
