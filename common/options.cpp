#include "common/options.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace isda {
namespace {

constexpr size_t kHelpWidth = 100;
constexpr size_t kWidestFlagColumn = 24;  // a longer "--flag VALUE" puts its help one space after it

// "a, b or c"
std::string listed(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += i + 1 == items.size() ? " or " : ", ";
    text += items[i];
  }
  return text;
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// `words` wrapped at kHelpWidth (a word is never split): the first line after `first`, the others
// after `indent` spaces.
std::string wrapped(const std::string& first, size_t indent, const std::vector<std::string>& words) {
  std::string text = first;
  size_t line_length = first.size();
  bool line_has_words = false;
  for (const auto& word : words) {
    if (line_has_words && line_length + 1 + word.size() > kHelpWidth) {
      text += "\n" + std::string(indent, ' ');
      line_length = indent;
      line_has_words = false;
    }
    if (line_has_words) {
      text += ' ';
      ++line_length;
    }
    text += word;
    line_length += word.size();
    line_has_words = true;
  }
  return text + "\n";
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string flag_and_value(const Option& option) {
  return option.is_switch() ? option.flag : option.flag + " " + option.value_name;
}

// What the help says after an option's own line: its choices, default, environment variable,
// other spellings, whether it repeats: " (a, b or c; default: a; env: X)".
std::string option_details(const Option& option) {
  std::vector<std::string> parts;
  if (!option.choices.empty()) parts.push_back(listed(option.choices));
  if (!option.default_value.empty() || !option.default_text.empty()) {
    parts.push_back("default: " + (option.default_text.empty() ? option.default_value : option.default_text));
  }
  if (!option.env_var.empty()) parts.push_back("env: " + option.env_var);
  for (const auto& alias : option.aliases) parts.push_back("also " + alias.flag + (alias.deprecated ? ", deprecated" : ""));
  if (option.repeat == Option::Repeat::append) parts.push_back("repeatable");
  return parts.empty() ? "" : " (" + joined(parts, "; ") + ")";
}

// The option lines of `options` (and of --help when `with_help`), grouped by section.
std::string options_help(const std::vector<Option>& options, bool with_help) {
  const Option help_row = switch_option("--help", "this help (also -h)");
  size_t column = help_row.flag.size();
  for (const auto& option : options) column = std::max(column, flag_and_value(option).size());
  column = std::min(column, kWidestFlagColumn);
  const auto line = [column](const Option& option) {
    auto left = flag_and_value(option);
    left.resize(std::max(column + 1, left.size()), ' ');
    return wrapped("  " + left + " ", column + 4, words_of(option.help + option_details(option)));
  };
  std::vector<std::string> sections = {""};
  for (const auto& option : options) {
    if (std::find(sections.begin(), sections.end(), option.section) == sections.end()) sections.push_back(option.section);
  }
  std::string text;
  for (const auto& section : sections) {
    if (!section.empty()) text += section + ":\n";
    for (const auto& option : options) {
      if (option.section == section) text += line(option);
    }
    if (section.empty() && with_help) text += line(help_row);
  }
  return text;
}

// The usage lines of `commands`: each one's own forms after its name, kept as written, or one
// form made from its table, wrapped under its name.
std::string usage_lines(const std::vector<const Command*>& commands) {
  std::string text;
  for (const auto* command : commands) {
    const auto lead = [&text] { return std::string(text.empty() ? "usage: " : "       "); };
    for (const auto& form : command->usage) text += lead() + command->name + " " + form + "\n";
    if (!command->usage.empty()) continue;
    std::vector<std::string> units;
    if (!command->positional.empty()) units.push_back(command->positional);
    for (const auto& option : command->options) units.push_back("[" + flag_and_value(option) + "]");
    const auto first = lead() + command->name + " ";
    text += units.empty() ? lead() + command->name + "\n" : wrapped(first, first.size(), units);
  }
  return text;
}

// `name`'s last word: "fetch" of "isda-data fetch".
std::string short_name(const std::string& name) { return name.substr(name.rfind(' ') + 1); }

const Option* find_option(const Command& command, const std::string& flag) {
  for (const auto& option : command.options) {
    if (option.flag == flag) return &option;
    for (const auto& alias : option.aliases) {
      if (alias.flag == flag) return &option;
    }
  }
  return nullptr;
}

// Checks a value of `option` as its row says; throws UsageError without the flag.
void check_value(const Option& option, const std::string& value) {
  if (value.empty()) throw UsageError("empty value");
  if (option.integer_range) parse_integer(value, option.integer_range->first, option.integer_range->second);
  if (!option.choices.empty() && std::find(option.choices.begin(), option.choices.end(), value) == option.choices.end()) {
    throw UsageError("expected " + listed(option.choices) + ", got \"" + value + "\"");
  }
}

}  // namespace

Option& Option::integer(int64_t min, int64_t max) {
  integer_range = std::make_pair(min, max);
  return *this;
}
Option& Option::one_of(std::vector<std::string> values) {
  choices = std::move(values);
  return *this;
}
Option& Option::default_to(std::string value) {
  default_value = std::move(value);
  return *this;
}
Option& Option::default_described(std::string text) {
  default_text = std::move(text);
  return *this;
}
Option& Option::from_env(std::string variable) {
  env_var = std::move(variable);
  return *this;
}
Option& Option::repeated() {
  repeat = Repeat::append;
  return *this;
}
Option& Option::later_wins() {
  repeat = Repeat::later_wins;
  return *this;
}
Option& Option::alias(std::string other_flag, bool deprecated) {
  aliases.push_back({std::move(other_flag), deprecated});
  return *this;
}
Option& Option::in_section(std::string heading) {
  section = std::move(heading);
  return *this;
}

Option value_option(std::string flag, std::string value_name, std::string help) {
  Option option;
  option.flag = std::move(flag);
  option.value_name = std::move(value_name);
  option.help = std::move(help);
  return option;
}

Option switch_option(std::string flag, std::string help) {
  Option option;
  option.flag = std::move(flag);
  option.help = std::move(help);
  return option;
}

const Arguments::Given& Arguments::given_of(const std::string& flag) const {
  for (const auto& given : given_) {
    if (given.option->flag == flag) return given;
  }
  throw std::logic_error("no option " + flag + " in the table");  // a programmer's error, never the user's
}

bool Arguments::has(const std::string& flag) const { return !given_of(flag).values.empty(); }

const std::string& Arguments::text(const std::string& flag) const {
  const auto& given = given_of(flag);
  return given.values.empty() ? given.option->default_value : given.values.back();
}

int64_t Arguments::integer(const std::string& flag) const {
  const auto& given = given_of(flag);
  if (!given.option->integer_range) throw std::logic_error(flag + " is not an integer option");
  if (text(flag).empty()) throw std::logic_error(flag + " has no value and no default");
  return parse_integer(text(flag), given.option->integer_range->first, given.option->integer_range->second);
}

const std::vector<std::string>& Arguments::values(const std::string& flag) const { return given_of(flag).values; }

Arguments parse_arguments(const Command& command, const std::vector<std::string>& args) {
  Arguments parsed;
  for (const auto& option : command.options) parsed.given_.push_back({&option, option.flag, {}});
  const auto given_for = [&parsed](const Option* option) -> Arguments::Given& {
    return *std::find_if(parsed.given_.begin(), parsed.given_.end(),
                         [option](const Arguments::Given& given) { return given.option == option; });
  };
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      parsed.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      parsed.help_ = true;
      return parsed;
    }
    std::string flag = arg;
    std::optional<std::string> inline_value;
    if (const auto equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      inline_value = arg.substr(equals + 1);
      flag.resize(equals);
    }
    const Option* option = find_option(command, flag);
    if (option == nullptr) throw UsageError("unknown option " + flag + " (see --help)");
    auto& given = given_for(option);
    if (!given.values.empty() && option->repeat == Option::Repeat::error) {
      throw UsageError(flag + ": given twice" + (given.spelling == flag ? "" : " (also as " + given.spelling + ")"));
    }
    std::string value;
    if (option->is_switch()) {
      if (inline_value) throw UsageError(flag + " takes no value");
    } else {
      if (!inline_value && i + 1 >= args.size()) throw UsageError(flag + ": missing value " + option->value_name);
      value = inline_value ? *inline_value : args[++i];
      try {
        check_value(*option, value);
      } catch (const UsageError& e) {
        throw UsageError(flag + ": " + e.what());
      }
    }
    given.spelling = flag;
    given.values.push_back(value);
  }
  for (auto& given : parsed.given_) {
    const auto& variable = given.option->env_var;
    if (!given.values.empty() || variable.empty()) continue;
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || value[0] == '\0') continue;
    try {
      check_value(*given.option, value);
    } catch (const UsageError& e) {
      throw UsageError(variable + ": " + e.what());
    }
    given.spelling = variable;
    given.values.push_back(value);
  }
  return parsed;
}

SubcommandArguments parse_subcommand(const Command& command, const std::vector<std::string>& args) {
  std::vector<std::string> visible;
  for (const auto& sub : command.subcommands) {
    if (!sub.hidden) visible.push_back(short_name(sub.name));
  }
  if (args.empty()) throw UsageError("expected a subcommand: " + listed(visible) + " (see --help)");
  if (args[0] == "--help" || args[0] == "-h") {
    Arguments help;
    help.help_ = true;
    return {command, help};
  }
  for (const auto& sub : command.subcommands) {
    if (short_name(sub.name) == args[0]) return {sub, parse_arguments(sub, {args.begin() + 1, args.end()})};
  }
  throw UsageError("unknown subcommand \"" + args[0] + "\" (known: " + joined(visible, ", ") + ")");
}

std::string help_text(const Command& command) {
  std::vector<const Command*> sections;  // the visible subcommands, each with its options
  for (const auto& sub : command.subcommands) {
    if (!sub.hidden) sections.push_back(&sub);
  }
  // A command with subcommands has their usage lines, and its own only where it gives forms.
  auto usage_of = sections;
  if (sections.empty() || !command.usage.empty()) usage_of.insert(usage_of.begin(), &command);
  // Descriptions are one paragraph each, wrapped here; the notes keep their lines.
  const auto paragraph = [](const std::string& first, const std::string& description) {
    return description.empty() ? first + "\n" : wrapped(first, 0, words_of(description));
  };
  std::string text = usage_lines(usage_of);
  if (!command.description.empty()) text += paragraph("", command.description);
  text += options_help(command.options, /*with_help=*/true);
  for (const auto* sub : sections) {
    text += "\n" + paragraph(short_name(sub->name) + ": ", sub->description);
    text += options_help(sub->options, /*with_help=*/false);
  }
  if (!sections.empty()) text += "\n";
  text += command.notes;
  if (!command.exit_codes.empty()) text += exit_codes_help(command.exit_codes);
  return text;
}

int64_t parse_integer(const std::string& text, int64_t min, int64_t max) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::logic_error&) {  // not a number, or out of int64_t's range
    used = 0;
  }
  if (text.empty() || used != text.size() || value < min || value > max) {
    const auto range = max == kNoIntegerLimit
                           ? ">= " + std::to_string(min)
                           : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    throw UsageError("expected an integer " + range + ", got \"" + text + "\"");
  }
  return value;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::string join_commas(const std::vector<std::string>& items) { return joined(items, ","); }

}  // namespace isda
