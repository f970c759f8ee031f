// Every tool's --help and usage errors come from its one option table (common/options.h): for
// isda-train, isda-run, isda-report, isda-data and each isda-bench subcommand, the help lists every
// option of the table and every exit code the tool declares, each a code of common/exit_codes.h,
// and an unknown flag, a missing value, a bad integer or a repeated flag is one line that names the
// flag, with exit code 2.
#include "bench/isda_bench.h"
#include "command/data_command.h"
#include "command/train_command.h"
#include "common/exit_codes.h"
#include "common/options.h"
#include "report/report_command.h"
#include "runner/run_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <sstream>

namespace isda {
namespace {

using ::testing::HasSubstr;

using Entry = std::function<int(const std::vector<std::string>&, std::ostream&, std::ostream&)>;

// One command as the user runs it: `words` before its options (a subcommand's name).
struct Tool {
  const Command* command;
  std::vector<std::string> words;
  Entry entry;
};

std::vector<Tool> every_tool() {
  std::vector<Tool> tools = {
      {&command::train_command_line(), {}, command::run_train_command},
      {&runner::run_command_line(), {}, runner::run_command},
      {&report::report_command_line(), {},
       [](const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
         return report::report_command(args, out, err, false);
       }},
  };
  for (const auto& sub : command::data_command_line().subcommands) {
    tools.push_back({&sub, {sub.name.substr(sub.name.rfind(' ') + 1)}, command::run_data_command});
  }
  for (const auto& sub : bench::bench_command_line().subcommands) {
    tools.push_back({&sub, {sub.name.substr(sub.name.rfind(' ') + 1)}, bench::run_bench});
  }
  return tools;
}

struct Outcome {
  int code;
  std::string out, err;
};

Outcome run(const Tool& tool, std::vector<std::string> args) {
  args.insert(args.begin(), tool.words.begin(), tool.words.end());
  std::ostringstream out, err;
  const int code = tool.entry(args, out, err);
  return {code, out.str(), err.str()};
}

// White space folded, so that a wrapped line reads as one.
std::string folded(const std::string& text) {
  std::string result;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\n';
    if (space && (result.empty() || result.back() == ' ')) continue;
    result += space ? ' ' : c;
  }
  return result;
}

// What the help of `tool` is: isda-data prints its one page for either subcommand.
const Command& help_page_of(const Tool& tool) {
  return tool.command->name.rfind("isda-data", 0) == 0 ? command::data_command_line() : *tool.command;
}

bool is_exit_code_of_the_table(int code) {
  if (code > kExitSignal && code < kExitSignal + 65) return true;  // 128 + a signal's number
  return std::find(std::begin(kExitCodes), std::end(kExitCodes), code) != std::end(kExitCodes);
}

TEST(ToolHelp, ListsEveryOptionOfTheTableAndEveryExitCodeWithItsText) {
  for (const auto& tool : every_tool()) {
    SCOPED_TRACE(tool.command->name);
    if (!tool.words.empty()) {
      EXPECT_TRUE(static_cast<bool>(tool.command->run)) << "a subcommand says what runs it";
    }
    const auto help = run(tool, {"--help"});
    EXPECT_EQ(help.code, kExitOk);
    EXPECT_EQ(help.err, "");
    EXPECT_EQ(help.out, help_text(help_page_of(tool)));
    const auto text = folded(help.out);
    for (const auto& option : tool.command->options) {
      const auto flag = option.is_switch() ? option.flag : option.flag + " " + option.value_name;
      EXPECT_THAT(text, HasSubstr(" " + flag + " " + folded(option.help))) << flag;
      for (const auto& alias : option.aliases) EXPECT_THAT(text, HasSubstr("also " + alias.flag)) << flag;
    }
    EXPECT_THAT(text, HasSubstr(" --help this help (also -h)"));
    const auto& codes = help_page_of(tool).exit_codes;
    for (const int required : {kExitOk, kExitUsage}) {
      EXPECT_TRUE(std::any_of(codes.begin(), codes.end(), [&](const ExitCodeUse& use) { return use.code == required; }))
          << "every tool returns " << required;
    }
    EXPECT_THAT(text, HasSubstr("exit codes: "));
    for (const auto& use : codes) {
      EXPECT_TRUE(is_exit_code_of_the_table(use.code)) << use.code << " is not a code of common/exit_codes.h";
      const auto code = use.code == kExitSignal ? std::string("128+N") : std::to_string(use.code);
      EXPECT_THAT(text, HasSubstr(code + " " + folded(use.meaning))) << use.code;
    }
  }
}

// The error line `tool` prints for `message`.
std::string error_line(const Tool& tool, const std::string& message) {
  return tool.command->name.rfind("isda-data", 0) == 0 ? "isda-data: error: " + message + "\n"
                                                       : tool.command->name + ": error: " + message + "\n";
}

// A value its row accepts.
std::string good_value(const Option& option) {
  if (option.integer_range) return std::to_string(option.integer_range->first);
  if (!option.choices.empty()) return option.choices.front();
  return "x";
}

TEST(ToolHelp, UsageErrorsAreOneLineNamingTheFlagAndExitCode2) {
  for (const auto& tool : every_tool()) {
    SCOPED_TRACE(tool.command->name);
    const auto expect_usage_error = [&tool](const std::vector<std::string>& args, const std::string& message) {
      const auto r = run(tool, args);
      EXPECT_EQ(r.code, kExitUsage) << r.err;
      EXPECT_EQ(r.err, error_line(tool, message));
      EXPECT_EQ(r.out, "");
    };
    expect_usage_error({"--no-such-flag"}, "unknown option --no-such-flag (see --help)");
    for (const auto& option : tool.command->options) {
      if (option.is_switch()) {
        expect_usage_error({option.flag + "=1"}, option.flag + " takes no value");
        expect_usage_error({option.flag, option.flag}, option.flag + ": given twice");
        continue;
      }
      expect_usage_error({option.flag}, option.flag + ": missing value " + option.value_name);
      if (option.integer_range) {
        expect_usage_error({option.flag, "x"}, option.flag + ": expected an integer " +
                                                   (option.integer_range->second == kNoIntegerLimit
                                                        ? ">= " + std::to_string(option.integer_range->first)
                                                        : "in [" + std::to_string(option.integer_range->first) + ", " +
                                                              std::to_string(option.integer_range->second) + "]") +
                                                   ", got \"x\"");
      }
      if (option.repeat == Option::Repeat::error) {
        const auto value = good_value(option);
        expect_usage_error({option.flag, value, option.flag, value}, option.flag + ": given twice");
      }
    }
  }
}

}  // namespace
}  // namespace isda
