#include "report/report_command.h"

#include "example_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace isda::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code = -1;
  std::string out, err;
};

Result report(std::vector<std::string> args, bool terminal = false) {
  std::ostringstream out, err;
  Result result;
  result.code = report_command(args, out, err, terminal);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// One error line, in the documented form.
void expect_one_error_line(const Result& result, int code, const std::string& fragment) {
  EXPECT_EQ(result.code, code) << result.err;
  EXPECT_THAT(result.err, StartsWith("isda-report: error: "));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr(fragment));
  EXPECT_EQ(result.out, "");
}

class ReportCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new testing::ScratchDir;
    testing::build_example_store(db(), scratch_->file("logs"));
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  static std::string db() { return scratch_->file("isda.db"); }
  static Result on_store(std::vector<std::string> args, bool terminal = false) {
    args.insert(args.end(), {"--db", db()});
    return report(args, terminal);
  }

  static testing::ScratchDir* scratch_;
};
testing::ScratchDir* ReportCommand::scratch_ = nullptr;

TEST_F(ReportCommand, PrintsTheNewestSweepOfATableAndSaysWhichItIs) {
  const auto result = on_store({"--table", "5"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Table 5: ablation of ISDA's components"));
  EXPECT_THAT(result.out, HasSubstr("sweep table5:smoke (id 3), 19 runs: 15 done, 2 running, 1 pending, 1 failed"));
  EXPECT_THAT(result.out, HasSubstr("3.56 ± 0.06*"));
  EXPECT_THAT(result.out, HasSubstr("sample standard deviation (n-1)"));
  EXPECT_EQ(result.err, "");
}

TEST_F(ReportCommand, PicksASweepByNameOrId) {
  const auto by_id = on_store({"--sweep", "2"});
  ASSERT_EQ(by_id.code, 0) << by_id.err;
  EXPECT_THAT(by_id.out, HasSubstr("Table 5 (an older spec)"));
  const auto by_name = on_store({"--sweep", "table3:smoke"});
  ASSERT_EQ(by_name.code, 0) << by_name.err;
  EXPECT_THAT(by_name.out, HasSubstr("Table 3"));
  const auto same_name = on_store({"--sweep", "table5:smoke"});  // two sweeps of that name: the newest
  EXPECT_THAT(same_name.out, HasSubstr("(id 3)"));
  expect_one_error_line(on_store({"--sweep", "table9"}), 2, "no sweep table9 (sweeps: quickstart, table5:smoke");
  expect_one_error_line(on_store({"--sweep", "quickstart"}), 2, "sweep quickstart has no table or figure layout");
  expect_one_error_line(on_store({"--sweep", "table3:smoke", "--table", "5"}), 2, "sweep table3:smoke has table 3, not 5");
}

TEST_F(ReportCommand, WithoutASelectionPrintsEveryTable) {
  const auto result = on_store({});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_LT(result.out.find("Table 3:"), result.out.find("Table 5:"));
  EXPECT_THAT(result.out, Not(HasSubstr("Figure 2")));
}

TEST_F(ReportCommand, AnUnknownTableListsTheKnownOnes) {
  expect_one_error_line(on_store({"--table", "7"}), 2, "no sweep has table 7 (tables in the store: 3, 5; see --list)");
  expect_one_error_line(on_store({"--figure", "9"}), 2, "no sweep has figure 9 (figures in the store: 2; see --list)");
}

TEST_F(ReportCommand, ListsTheSweepsAndWhichOnesTheTablesUse) {
  const auto result = on_store({"--list"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(": 5 sweeps\n"));
  std::istringstream lines(result.out);
  std::vector<std::vector<std::string>> rows;  // the words of each line
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    rows.emplace_back(std::istream_iterator<std::string>(words), std::istream_iterator<std::string>());
  }
  ASSERT_EQ(rows.size(), 7u);
  const auto words = [](std::initializer_list<const char*> list) { return std::vector<std::string>(list.begin(), list.end()); };
  EXPECT_EQ(rows[1], words({"id", "sweep", "layouts", "reported", "by", "runs", "done", "running", "pending",
                            "interrupted", "failed", "created", "(UTC)"}));
  rows[3].resize(6);  // up to the runs: the creation time differs from run to run
  EXPECT_EQ(rows[3], words({"2", "table5:smoke", "table", "5", "-", "1"}));
  rows[4].resize(12);
  EXPECT_EQ(rows[4], words({"3", "table5:smoke", "table", "5", "--table", "5", "19", "15", "2", "1", "0", "1"}));
  rows[6].resize(6);
  EXPECT_EQ(rows[6], words({"5", "figure2:smoke", "figure", "2", "--figure", "2"}));
}

// Table 3's generator rows: every format says how class-consistent the images of each generator
// run behind them are, with the judge's accuracy, and "not recorded" for a run of an older version.
TEST_F(ReportCommand, ATableWithGeneratedImagesGivesItsGeneratorsClassConsistencyInEveryFormat) {
  const auto terminal = on_store({"--table", "3"});
  ASSERT_EQ(terminal.code, 0) << terminal.err;
  EXPECT_THAT(terminal.out, HasSubstr("generator class consistency (the share of a generator run's images that an "
                                      "independent judge classifier assigns the label they were generated for; in "
                                      "brackets the judge's accuracy on the real test images, its ceiling):\n"
                                      "  cgan on cifar10 (seed 0): 0.640 [0.810]\n"
                                      "  cgan on cifar100 (seed 0): 0.410 [0.520]\n"
                                      "  acgan on cifar10 (seed 0): not recorded\n"));
  EXPECT_THAT(terminal.out, Not(HasSubstr("infogan")));  // no cell uses its images yet

  const auto markdown = on_store({"--table", "3", "--format", "markdown"});
  EXPECT_THAT(markdown.out, HasSubstr("its ceiling):\n  - cgan on cifar10 (seed 0): 0.640 [0.810]\n"));
  EXPECT_THAT(markdown.out, HasSubstr("  - acgan on cifar10 (seed 0): not recorded\n"));

  const auto latex = on_store({"--table", "3", "--format", "latex"});
  EXPECT_THAT(latex.out, HasSubstr("its ceiling): cgan on cifar10 (seed 0): 0.640 [0.810]; cgan on cifar100 (seed 0): "
                                   "0.410 [0.520]; acgan on cifar10 (seed 0): not recorded\\par\n"));

  const auto csv = on_store({"--table", "3", "--format", "csv"});
  EXPECT_THAT(csv.out, HasSubstr(",generator_run,class_consistency,judge_test_accuracy\n"));
  const auto cgan10 = testing::StoreBuilder::id_of(testing::generator_config("cgan", "cifar10"));
  const auto acgan10 = testing::StoreBuilder::id_of(testing::generator_config("acgan", "cifar10"));
  EXPECT_THAT(csv.out, HasSubstr(",CGAN,WRN-28-10,CIFAR-10,"));
  EXPECT_THAT(csv.out, HasSubstr("," + cgan10 + ",0.6400,0.8100\n"));
  EXPECT_THAT(csv.out, HasSubstr("," + acgan10 + ",,\n"));  // not recorded: the run, no numbers
  EXPECT_THAT(csv.out, HasSubstr(",Focal Loss,ResNet-110,CIFAR-10,last10_test_error,results,6.7000,0.1414,2,2,2,0,0,0,"
                                 "0,6.6800,0.2200,0.0200,1,0,,,,,,,,,,,,,,,\n"));

  const auto html = on_store({"--table", "3", "--format", "html"});
  ASSERT_EQ(html.code, 0) << html.err;
  EXPECT_THAT(html.out, HasSubstr("<ul class=\"consistency\">\n<li>cgan on cifar10 (seed 0): 0.640 [0.810]</li>\n"));
  EXPECT_THAT(html.out, HasSubstr("<li>acgan on cifar10 (seed 0): not recorded</li>"));
  EXPECT_THAT(html.out, HasSubstr("<li>cgan on cifar10 (seed 0), run " + cgan10 + " (done): <a href=\"results/runs/" +
                                  cgan10 + "/samples.png\">results/runs/" + cgan10 +
                                  "/samples.png</a>; class consistency 0.640 [0.810]</li>"));
  EXPECT_THAT(html.out, HasSubstr("/samples.png</a>; class consistency not recorded</li>"));
  EXPECT_THAT(html.out, HasSubstr("/samples.png</a>; class consistency not yet (running)</li>"));

  const auto table5 = on_store({"--table", "5"});  // no generated images: nothing to say
  EXPECT_THAT(table5.out, Not(HasSubstr("class consistency")));
}

TEST_F(ReportCommand, MetricOverridesTheTablesMetric) {
  const auto result = on_store({"--table", "5", "--metric", "best_test_error"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("over seeds of best_test_error (lowest test error (%) of any epoch)"));
  EXPECT_THAT(result.out, HasSubstr("3.60 ± 0.10"));  // Basic CIFAR-10: 3.80 - 0.2
  expect_one_error_line(on_store({"--table", "5", "--metric", "top5"}), 2, "--metric: unknown metric \"top5\"");
  expect_one_error_line(on_store({"--table", "5", "--metric", "test_error"}), 2,
                        "--metric: test_error is a per-epoch metric, for figures and HTML curves");
  expect_one_error_line(on_store({"--figure", "2", "--metric", "last10_test_error"}), 2,
                        "--metric: last10_test_error is a final metric, for tables");
  const auto figure = on_store({"--figure", "2", "--metric", "train_loss"});
  ASSERT_EQ(figure.code, 0) << figure.err;
  EXPECT_THAT(figure.out, HasSubstr("train_loss (training loss)"));
}

TEST_F(ReportCommand, FiguresInTextFormatsGiveTheirNumbers) {
  const auto result = on_store({"--figure", "2"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("the curves need --format html"));
  EXPECT_THAT(result.out, HasSubstr("57.50 ± 0.71 (2)"));
  expect_one_error_line(on_store({"--figure", "2", "--format", "latex"}), 2, "figures need --format html");
  expect_one_error_line(on_store({"--table", "5", "--figure", "2", "--format", "csv"}), 2,
                        "ask for tables or for figures, not both");
}

TEST_F(ReportCommand, BoldsWithAnsiOnlyOnATerminal) {
  const auto terminal = on_store({"--table", "5"}, true);
  EXPECT_THAT(terminal.out, HasSubstr("\x1b[1m3.56 ± 0.06\x1b[0m"));
  EXPECT_THAT(terminal.out, HasSubstr("in bold"));
  const auto pipe = on_store({"--table", "5"}, false);
  EXPECT_THAT(pipe.out, Not(HasSubstr("\x1b[")));
  EXPECT_THAT(pipe.out, HasSubstr("marked *"));
}

TEST_F(ReportCommand, StatesTheStdConventionInEveryFormat) {
  for (const std::string format : {"terminal", "markdown", "latex", "html"}) {
    const auto result = on_store({"--table", "5", "--format", format});
    ASSERT_EQ(result.code, 0) << format << ": " << result.err;
    EXPECT_THAT(result.out, HasSubstr("sample standard deviation (n-1)")) << format;
  }
  const auto csv = on_store({"--table", "5", "--format", "csv"});
  EXPECT_THAT(csv.out, HasSubstr(",mean,sample_std,n,"));
}

TEST_F(ReportCommand, WritesTheReportToOut) {
  const auto path = scratch_->file("report.md");
  const auto result = on_store({"--table=5", "--format=markdown", "--out", path});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "isda-report: wrote " + path + "\n");
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), StartsWith("### Profile smoke, not the paper's setting: Table 5"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  expect_one_error_line(on_store({"--table", "5", "--out", scratch_->file("no/such/dir/r.txt")}), 2, "--out: cannot write");
}

TEST_F(ReportCommand, RejectsBadUsageInOneLine) {
  expect_one_error_line(on_store({"--format", "pdf"}), 2,
                        "--format: expected terminal, markdown, latex, csv or html, got \"pdf\"");
  expect_one_error_line(on_store({"--tables", "5"}), 2, "unknown option --tables (see --help)");
  expect_one_error_line(on_store({"5"}), 2, "unexpected argument \"5\"");
  expect_one_error_line(report({"--table"}), 2, "--table: missing value ID");
  expect_one_error_line(on_store({"--list=yes"}), 2, "--list takes no value");
}

// A table of the paper's setting is what --table shows, also when a smoke sweep of it is newer;
// the smoke sweep's title says what it ran.
TEST(ReportCommandStore, PrefersThePapersSettingAndTitlesAProfileByWhatItSets) {
  testing::ScratchDir scratch;
  const auto db = scratch.file("isda.db");
  {
    testing::StoreBuilder builder(db, scratch.file("logs"));
    const auto layout = testing::table5_layout("Table 5: ablation");
    builder.add_sweep("table5", {{"name", "table5"}, {"table", layout}},
                      {testing::done(testing::run_config("cifar10", "ce", "full", 0), 3.9)});
    builder.add_sweep("table5:smoke",
                      {{"name", "table5"}, {"table", layout}, {"profiles", {{"smoke", {{"epochs", 2}, {"train_limit", 2000}}}}}},
                      {testing::done(testing::run_config("cifar10", "ce", "full", 1), 40.0)});
  }
  const auto paper = report({"--table", "5", "--db", db});
  ASSERT_EQ(paper.code, 0) << paper.err;
  EXPECT_THAT(paper.out, StartsWith("Table 5: ablation"));
  EXPECT_THAT(paper.out, HasSubstr("sweep table5 (id 1)"));
  const auto smoke = report({"--sweep", "table5:smoke", "--db", db});
  ASSERT_EQ(smoke.code, 0) << smoke.err;
  EXPECT_THAT(smoke.out, StartsWith("Profile smoke (epochs 2, train_limit 2000), not the paper's setting: Table 5: ablation"));
}

TEST(ReportCommandHelp, GeneratesHelpFromTheOptionTable) {
  const auto result = report({"--help"});
  EXPECT_EQ(result.code, 0);
  for (const char* flag : {"--table ID", "--figure ID", "--sweep NAME|ID", "--metric NAME", "--format FORMAT",
                           "--out FILE", "--db PATH", "--list"}) {
    EXPECT_THAT(result.out, HasSubstr(flag));
  }
  EXPECT_THAT(result.out, HasSubstr("sample standard deviation (n-1)"));
}

TEST(ReportCommandStore, AMissingOrUnreadableStoreIsExitCode6) {
  testing::ScratchDir scratch;
  expect_one_error_line(report({"--db", scratch.file("none.db"), "--table", "5"}), 6,
                        "none.db: no results store there (run isda-run SPEC first, or pass --db PATH)");
  const auto garbage = scratch.file("garbage.db");
  std::ofstream(garbage) << "this is not a database, not even close; it is a text file of some length\n";
  const auto result = report({"--db", garbage, "--list"});
  EXPECT_EQ(result.code, 6) << result.err;
  EXPECT_THAT(result.err, StartsWith("isda-report: error: "));
}

TEST(ReportCommandStore, AnEmptyStoreSaysSo) {
  testing::ScratchDir scratch;
  { testing::StoreBuilder builder(scratch.file("isda.db"), scratch.file("logs")); }
  const auto list = report({"--db", scratch.file("isda.db"), "--list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_THAT(list.out, HasSubstr("the store holds no sweeps yet (run isda-run SPEC first)"));
  expect_one_error_line(report({"--db", scratch.file("isda.db")}), 2, "the store holds no sweeps yet");
  expect_one_error_line(report({"--db", scratch.file("isda.db"), "--table", "5"}), 2, "the store holds no sweeps yet");
}

TEST(ReportCommandStore, AnUnfinishedTableSaysWhatIsRunning) {
  testing::ScratchDir scratch;
  {
    testing::StoreBuilder builder(scratch.file("isda.db"), scratch.file("logs"));
    auto runs = testing::table5_runs();
    for (auto& run : runs) run = testing::in_state(run.config, results::RunState::pending);
    runs[0].state = results::RunState::running;
    builder.add_sweep("table5", {{"table", testing::table5_layout("Table 5")}}, runs);
  }
  const auto result = report({"--db", scratch.file("isda.db"), "--table", "5"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("19 runs: 1 running, 18 pending"));
  EXPECT_THAT(result.out, HasSubstr("no results (1 running, 2 pending)"));
  EXPECT_THAT(result.out, HasSubstr("no runs"));
}

// A classifier's generator_run may name a run of another sweep (one given by hand): the store has
// it. One that names no run of the store (a directory) is said to be so.
TEST(ReportCommandStore, AGeneratorRunOutsideTheSweepIsReadFromTheStore) {
  testing::ScratchDir scratch;
  const auto cgan10 = testing::generator_config("cgan", "cifar10");
  {
    testing::StoreBuilder builder(scratch.file("isda.db"), scratch.file("logs"));
    builder.add_sweep("gans", {{"name", "gans"}},
                      {testing::generator_done(cgan10, {{"class_consistency", 0.7}, {"judge_test_accuracy", 0.9}})});
    const nlohmann::json classifier = {{"model", "resnet110"}, {"dataset", "cifar10"}, {"method", "ce"}, {"seed", 0}};
    auto by_hand = testing::using_generator(classifier, testing::generator_config("acgan", "cifar10"));
    by_hand["generator_run"] = "/data/gans/acgan-cifar10";
    builder.add_sweep("table3", {{"name", "table3"}, {"table", testing::table3_layout()}},
                      {testing::done(testing::using_generator(classifier, cgan10), 6.5), testing::done(by_hand, 6.4)});
  }
  const auto result = report({"--db", scratch.file("isda.db"), "--table", "3"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("  cgan on cifar10 (seed 0): 0.700 [0.900]\n"
                                    "  /data/gans/acgan-cifar10: not a run of this store\n"));
}

TEST(ReportCommandStore, ABadLayoutNamesTheSweepAndThePath) {
  testing::ScratchDir scratch;
  {
    testing::StoreBuilder builder(scratch.file("isda.db"), scratch.file("logs"));
    auto layout = testing::table5_layout("Table 5");
    layout["rows"][2]["paper"] = {1, 2, 3};
    builder.add_sweep("table5", {{"table", layout}}, {});
  }
  expect_one_error_line(report({"--db", scratch.file("isda.db"), "--table", "5"}), 2,
                        "sweep table5: table.rows[2].paper: expected 2 entries (one per column), got 3");
  const auto list = report({"--db", scratch.file("isda.db"), "--list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_THAT(list.out, HasSubstr("bad layout: sweep table5: table.rows[2].paper"));
}

}  // namespace
}  // namespace isda::report
