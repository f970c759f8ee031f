// The one option table and parser of every command: values, switches, positional arguments,
// defaults and environment variables, the one-line errors that name the flag, and --help.
#include "common/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace isda {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Command example() {
  Command command;
  command.name = "isda-example";
  command.positional = "SPEC.json";
  command.description = "Does an example.\n";
  command.options = {
      value_option("--db", "PATH", "results store").default_to("results/isda.db"),
      value_option("--cpu-slots", "N", "workers without a GPU").integer(1).default_to("1"),
      value_option("--count", "N", "images").integer(1, 1024),
      value_option("--backend", "NAME", "where workers run").one_of({"local", "slurm"}).default_to("local"),
      value_option("--data-root", "DIR", "the data set's folder").alias("--root", /*deprecated=*/true),
      value_option("--worker", "PATH", "the isda-train binary").default_to("isda-train").from_env("ISDA_EXAMPLE_WORKER"),
      value_option("--sbatch-arg", "A", "one more sbatch argument").repeated().in_section("Slurm"),
      value_option("--epochs", "N", "epochs").integer(1).later_wins().in_section("Slurm"),
      switch_option("--dry-run", "run nothing"),
  };
  command.notes = "A note.\n";
  command.exit_codes = {{kExitOk, "done"}, {kExitUsage, "bad usage"}, {kExitSignal, "stopped"}};
  return command;
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    parse_arguments(example(), args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Options, ValuesComeAsTheNextArgumentOrAfterEquals) {
  const auto command = example();
  const auto spaced = parse_arguments(command, {"a.json", "--db", "x.db", "--cpu-slots", "3", "--dry-run"});
  const auto equals = parse_arguments(command, {"--db=x.db", "a.json", "--cpu-slots=3", "--dry-run"});
  for (const auto* args : {&spaced, &equals}) {
    EXPECT_EQ(args->text("--db"), "x.db");
    EXPECT_EQ(args->integer("--cpu-slots"), 3);
    EXPECT_TRUE(args->has("--dry-run"));
    EXPECT_THAT(args->positional(), ElementsAre("a.json"));
    EXPECT_FALSE(args->help());
  }
  EXPECT_EQ(parse_arguments(command, {"--sbatch-arg", "--mem=8G"}).values("--sbatch-arg"), std::vector<std::string>{"--mem=8G"})
      << "a value may start with a dash";
  EXPECT_THAT(parse_arguments(command, {"--", "--db", "-"}).positional(), ElementsAre("--db", "-"));
}

TEST(Options, DefaultsEnvironmentAliasesAndRepeatableRows) {
  const auto command = example();
  const auto none = parse_arguments(command, {});
  EXPECT_FALSE(none.has("--db"));
  EXPECT_EQ(none.text("--db"), "results/isda.db");
  EXPECT_EQ(none.integer("--cpu-slots"), 1);
  EXPECT_EQ(none.text("--data-root"), "");
  EXPECT_EQ(none.text("--worker"), "isda-train");
  EXPECT_FALSE(none.has("--dry-run"));

  ::setenv("ISDA_EXAMPLE_WORKER", "/opt/isda-train", 1);
  EXPECT_EQ(parse_arguments(command, {}).text("--worker"), "/opt/isda-train");
  EXPECT_EQ(parse_arguments(command, {"--worker", "w"}).text("--worker"), "w") << "the flag wins over the variable";
  ::unsetenv("ISDA_EXAMPLE_WORKER");

  EXPECT_EQ(parse_arguments(command, {"--root", "data"}).text("--data-root"), "data");
  EXPECT_THAT(parse_arguments(command, {"--sbatch-arg=a", "--sbatch-arg", "b"}).values("--sbatch-arg"),
              ElementsAre("a", "b"));
  EXPECT_EQ(parse_arguments(command, {"--epochs", "3", "--epochs=5"}).integer("--epochs"), 5);
  EXPECT_EQ(error_of({"--epochs", "3", "--epochs=x"}), "--epochs: expected an integer >= 1, got \"x\"")
      << "each value is checked";
}

TEST(Options, ConvertNamesTheFlagAsTyped) {
  const auto args = parse_arguments(example(), {"--root", "x"});
  try {
    args.convert("--data-root", [](const std::string& text) -> int { throw UsageError("no folder " + text); });
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--root: no folder x");
  }
  EXPECT_THROW(args.text("--no-such-row"), std::logic_error) << "a flag not in the table is the programmer's error";
}

TEST(Options, ErrorsAreOneLineNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "unknown option --bogus (see --help)"},
      {{"--bogus=1"}, "unknown option --bogus (see --help)"},
      {{"-x"}, "unknown option -x (see --help)"},
      {{"--db"}, "--db: missing value PATH"},
      {{"--db="}, "--db: empty value"},
      {{"--dry-run=yes"}, "--dry-run takes no value"},
      {{"--cpu-slots", "x"}, "--cpu-slots: expected an integer >= 1, got \"x\""},
      {{"--cpu-slots=0"}, "--cpu-slots: expected an integer >= 1, got \"0\""},
      {{"--cpu-slots", "99999999999999999999"}, "--cpu-slots: expected an integer >= 1, got \"99999999999999999999\""},
      {{"--cpu-slots", "2147483648"}, "--cpu-slots: expected an integer >= 1, got \"2147483648\""},
      {{"--count", "2000"}, "--count: expected an integer in [1, 1024], got \"2000\""},
      {{"--backend", "pbs"}, "--backend: expected local or slurm, got \"pbs\""},
      {{"--db", "a", "--db=b"}, "--db: given twice"},
      {{"--dry-run", "--dry-run"}, "--dry-run: given twice"},
      {{"--data-root", "a", "--root", "b"}, "--root: given twice (also as --data-root)"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_EQ(error_of(args), message);
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  ::setenv("ISDA_EXAMPLE_WORKER", "", 1);
  EXPECT_EQ(error_of({}), "(no error)") << "an empty variable is no value";
  ::unsetenv("ISDA_EXAMPLE_WORKER");
}

TEST(Options, HelpStopsTheReading) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"--db", "x", "--help", "--bogus"}}) {
    EXPECT_TRUE(parse_arguments(example(), args).help());
  }
  EXPECT_EQ(error_of({"--bogus", "--help"}), "unknown option --bogus (see --help)");
}

TEST(Options, HelpListsEveryOptionItsDefaultsAndTheExitCodes) {
  const auto help = help_text(example());
  EXPECT_EQ(help.substr(0, help.find("\nDoes")),
            "usage: isda-example SPEC.json [--db PATH] [--cpu-slots N] [--count N] [--backend NAME]\n"
            "                    [--data-root DIR] [--worker PATH] [--sbatch-arg A] [--epochs N] [--dry-run]")
      << "a generated usage line wraps at 100 columns between options, under the name";
  EXPECT_THAT(help, HasSubstr("\nDoes an example.\n  --db PATH        results store (default: results/isda.db)\n"));
  EXPECT_THAT(help, HasSubstr("  --data-root DIR  the data set's folder (also --root, deprecated)\n"));
  EXPECT_THAT(help, HasSubstr("  --backend NAME   where workers run (local or slurm; default: local)\n"));
  EXPECT_THAT(help,
              HasSubstr("  --worker PATH    the isda-train binary (default: isda-train; env: ISDA_EXAMPLE_WORKER)\n"));
  EXPECT_THAT(help, HasSubstr("  --help           this help (also -h)\nSlurm:\n  --sbatch-arg A   one more sbatch "
                              "argument (repeatable)\n"));
  EXPECT_THAT(help, HasSubstr("A note.\nexit codes: 0 done, 2 bad usage, 128+N stopped\n"));
}

TEST(Options, SubcommandsAreFoundByNameAndListedInTheHelp) {
  Command tool;
  tool.name = "isda-tool";
  tool.exit_codes = {{kExitOk, "done"}};
  for (const char* name : {"fetch", "preview", "probe"}) {
    Command sub;
    sub.name = std::string("isda-tool ") + name;
    sub.description = std::string("does ") + name + "\n";
    sub.options = {value_option("--out", "FILE", "where")};
    sub.hidden = std::string(name) == "probe";
    tool.subcommands.push_back(sub);
  }
  const auto preview = parse_subcommand(tool, {"preview", "--out", "x"});
  EXPECT_EQ(preview.command.name, "isda-tool preview");
  EXPECT_EQ(preview.arguments.text("--out"), "x");
  EXPECT_EQ(parse_subcommand(tool, {"probe"}).command.name, "isda-tool probe");
  EXPECT_TRUE(parse_subcommand(tool, {"fetch", "-h"}).arguments.help());
  const auto tool_help = parse_subcommand(tool, {"--help", "fetch"});
  EXPECT_EQ(tool_help.command.name, "isda-tool");
  EXPECT_TRUE(tool_help.arguments.help());
  const auto error = [&tool](const std::vector<std::string>& args) {
    try {
      parse_subcommand(tool, args);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(error({}), "expected a subcommand: fetch or preview (see --help)");
  EXPECT_EQ(error({"download"}), "unknown subcommand \"download\" (known: fetch, preview)");
  EXPECT_EQ(error({"fetch", "--in", "x"}), "unknown option --in (see --help)");
  const auto help = help_text(tool);
  EXPECT_THAT(help, HasSubstr("usage: isda-tool fetch [--out FILE]\n       isda-tool preview [--out FILE]\n"));
  EXPECT_THAT(help, HasSubstr("\nfetch: does fetch\n  --out FILE  where\n"));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("probe")));
}

TEST(Options, ParseIntegerAndSplitCommas) {
  EXPECT_EQ(parse_integer("-3", -5, 5), -3);
  EXPECT_THROW(parse_integer("3x", 0), UsageError);
  EXPECT_THROW(parse_integer("", 0), UsageError);
  EXPECT_THAT(split_commas("a,,b,"), ElementsAre("a", "b"));
  EXPECT_EQ(join_commas({"a", "b"}), "a,b");
}

}  // namespace
}  // namespace isda
