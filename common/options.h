#pragma once
// One option table type for every command of the suite (isda-train, isda-run, isda-report,
// isda-data and each isda-bench subcommand): a Command holds a row per option, and from it come
// the parsing (parse_arguments), the checks of integers and choices, the one-line usage errors that
// name the flag, and --help (help_text) with the command's exit codes (common/exit_codes.h).
//
// Rules every command shares: a value comes as the next argument or after '=' (--db PATH,
// --db=PATH); a switch takes none; an empty value is an error; a flag given twice is an error
// unless its row says a later one wins or every value is kept; --help or -h anywhere stops the
// reading (what follows is not looked at); "--" ends the options; other arguments are positional.

#include "common/exit_codes.h"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace isda {

// The largest value of an integer option that names no maximum: what an int holds.
inline constexpr int64_t kNoIntegerLimit = std::numeric_limits<int>::max();

// One row of a command's option table. Made by value_option or switch_option, then refined with
// the chained setters below, e.g.
//   value_option("--per-gpu", "K", "workers per GPU").integer(1).default_to("1")
struct Option {
  std::string flag;        // "--per-gpu"
  std::string value_name;  // "K" in the help; empty for a switch
  std::string help;        // one line, without the default
  std::string default_value;  // the value when neither the flag nor env_var gives one; shown as "(default: X)"
  std::string default_text;   // what the help says the default is when it is not one value ("cores / workers")
  std::string env_var;        // an environment variable (non-empty) that gives the value when the flag is absent
  std::optional<std::pair<int64_t, int64_t>> integer_range;  // the value must be an integer in it
  std::vector<std::string> choices;                          // the value must be one of these
  // What a second use of the flag does: an error naming it (the default); the later value wins
  // (isda-train's config keys, which also override the config file); every value is kept (values()).
  enum class Repeat { error, later_wins, append };
  Repeat repeat = Repeat::error;
  struct Alias {
    std::string flag;
    bool deprecated;
  };
  std::vector<Alias> aliases;  // other spellings, read as `flag`
  std::string section;         // a heading the option is listed under in --help ("" the first list)

  Option& integer(int64_t min, int64_t max = kNoIntegerLimit);
  Option& one_of(std::vector<std::string> values);
  Option& default_to(std::string value);
  Option& default_described(std::string text);
  Option& from_env(std::string variable);
  Option& repeated();    // Repeat::append
  Option& later_wins();  // Repeat::later_wins
  Option& alias(std::string other_flag, bool deprecated = false);
  Option& in_section(std::string heading);

  bool is_switch() const { return value_name.empty(); }
};

Option value_option(std::string flag, std::string value_name, std::string help);
Option switch_option(std::string flag, std::string help);

class Arguments;

// A command, or one subcommand of a command (isda-data fetch, isda-bench head).
struct Command {
  std::string name;                   // as typed and as errors name it: "isda-run", "isda-bench head"
  std::vector<std::string> usage;     // the forms after the name; empty: one made from `positional` and the options
  std::string positional;             // what the generated usage form puts first ("SPEC.json"); may be empty
  std::string description;            // what it does, after the usage lines: one paragraph, wrapped by help_text
  std::vector<Option> options;        // --help (and -h) is every command's and is not listed here
  std::string notes;                  // printed after the options; lines end in '\n'
  std::vector<ExitCodeUse> exit_codes;  // the codes it returns, in its own words
  std::vector<Command> subcommands;   // each parsed with its own options (parse_subcommand)
  bool hidden = false;                // a subcommand that --help leaves out (an internal child process)
  // What runs a subcommand with its arguments, results to the first stream and notes to the
  // second; returns an exit code, throws for errors the tool turns into one line.
  std::function<int(const Arguments&, std::ostream&, std::ostream&)> run;
};

struct SubcommandArguments;

// What parse_arguments read. Values are strings as typed; integer and choice rows were checked.
class Arguments {
 public:
  // --help or -h was given: nothing after it was read.
  bool help() const { return help_; }
  // The option was given on the command line or by its environment variable.
  bool has(const std::string& flag) const;
  // Its value: the last given, else its environment variable's, else its default ("" for none).
  const std::string& text(const std::string& flag) const;
  // text() of an integer row as a number; std::logic_error when it has no value and no default.
  int64_t integer(const std::string& flag) const;
  // Every value given, in order (all of them for a Repeat::append row).
  const std::vector<std::string>& values(const std::string& flag) const;
  // convert(text(flag)); a UsageError it throws is thrown again prefixed with the flag as the user
  // spelled it ("--gpus: expected an integer >= 0, got \"x\""), or with the environment variable.
  template <class Convert>
  auto convert(const std::string& flag, Convert&& convert) const -> decltype(convert(std::string())) {
    const auto& given = given_of(flag);
    try {
      return convert(text(flag));
    } catch (const UsageError& e) {
      throw UsageError(given.spelling + ": " + e.what());
    }
  }
  // The arguments that are not options, in order.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend Arguments parse_arguments(const Command&, const std::vector<std::string>&);
  friend SubcommandArguments parse_subcommand(const Command&, const std::vector<std::string>&);
  struct Given {
    const Option* option = nullptr;
    std::string spelling;  // the flag or alias as typed, or the environment variable
    std::vector<std::string> values;
  };
  const Given& given_of(const std::string& flag) const;  // std::logic_error for a flag not in the table

  std::vector<Given> given_;  // one per row of the table, in its order
  std::vector<std::string> positional_;
  bool help_ = false;
};

// Reads `args` (without the program or subcommand name) against command.options. Throws
// UsageError with one line that names the flag: "unknown option --x (see --help)", "--db: missing
// value PATH", "--dry-run takes no value", "--db: empty value", "--db: given twice",
// "--per-gpu: expected an integer >= 1, got \"0\"", "--backend: expected local or slurm, got \"pbs\"".
// The Arguments point into command.options: `command` must outlive them (the tools' are static).
Arguments parse_arguments(const Command& command, const std::vector<std::string>& args);

// For a command with subcommands: the one args[0] names (a hidden one included) and the rest of
// `args` parsed against its options; or, when args[0] is --help or -h, `command` itself with help().
// Throws UsageError as parse_arguments does, or "expected a subcommand: fetch or preview (see
// --help)", "unknown subcommand \"x\" (known: fetch, preview)".
struct SubcommandArguments {
  const Command& command;
  Arguments arguments;
};
SubcommandArguments parse_subcommand(const Command& command, const std::vector<std::string>& args);

// The command's --help: usage forms, description, options (with defaults, environment variables
// and other spellings; wrapped at 100 columns), notes and exit codes. A command with subcommands
// lists each visible one's description and options under its name.
std::string help_text(const Command& command);

// `text` as an integer in [min, max]; else UsageError "expected an integer >= MIN, got \"TEXT\""
// (or "in [MIN, MAX]" when max is not kNoIntegerLimit).
int64_t parse_integer(const std::string& text, int64_t min, int64_t max = kNoIntegerLimit);

// "a,b,,c" -> {"a", "b", "c"}: a list value, empty items dropped; join_commas is its inverse, for
// a list's default.
std::vector<std::string> split_commas(const std::string& text);
std::string join_commas(const std::vector<std::string>& items);

}  // namespace isda
