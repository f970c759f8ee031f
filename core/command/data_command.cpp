#include "command/data_command.h"

#include "common/exit_codes.h"
#include "data/data_error.h"
#include "data/datasets.h"
#include "data/fetch.h"
#include "data/png.h"
#include "data/preview.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <ostream>
#include <stdexcept>

namespace isda::command {
namespace {


// One row of a subcommand's option table, from which parsing and --help derive.
struct Option {
  const char* flag;     // without the leading --
  const char* value;    // placeholder in the help
  const char* fallback;  // default shown in the help ("" for none)
  const char* help;
};

const std::vector<Option> kFetchOptions = {
    {"root", "DIR", "$ISDA_DATA_ROOT/<dataset> or data/<dataset>", "where the archive's folder is unpacked"},
    {"url", "URL", "the official archive", "download from this URL instead (https, http or file://)"},
    {"md5", "HEX", "the published MD5", "expected MD5 of the archive at --url"},
};

const std::vector<Option> kPreviewOptions = {
    {"dataset", "NAME", "cifar10", "fashion-mnist, cifar10 or cifar100"},
    {"augment", "KIND", "autoaugment", "none, standard, cutout or autoaugment"},
    {"out", "FILE.png", "", "the PNG to write (required)"},
    {"root", "DIR", "the data set's default location", "folder holding the data set files"},
    {"count", "N", "8", "training images, one column each"},
    {"copies", "K", "4", "augmented rows below the originals"},
    {"scale", "S", "2", "pixel size of the tiles"},
    {"seed", "S", "0", "seed of the augmenter"},
};

void print_options(std::ostream& out, const std::vector<Option>& options) {
  for (const auto& o : options) {
    const auto left = fmt::format("--{} {}", o.flag, o.value);
    out << fmt::format("  {:<18} {}", left, o.help);
    if (o.fallback[0] != '\0') out << " (default: " << o.fallback << ")";
    out << '\n';
  }
}

void print_help(std::ostream& out) {
  out << "usage: isda-data fetch cifar10|cifar100 [--root DIR] [--url URL --md5 HEX]\n"
         "       isda-data preview --out FILE.png [--dataset NAME] [--augment KIND] [--count N] ...\n\n"
         "fetch: downloads the official archive, checks its published MD5 and unpacks it into\n"
         "ROOT/cifar-10-batches-bin (or ROOT/cifar-100-binary), the layout isda-train reads; data already\n"
         "there with the official file sizes is left alone. A failed download leaves nothing behind.\n";
  print_options(out, kFetchOptions);
  out << "\npreview: a PNG grid, one column per training image: the originals on the first row, then\n"
         "augmented copies (the batched augmentation isda-train applies).\n";
  print_options(out, kPreviewOptions);
  out << '\n'
      << exit_codes_help({{kExitOk, "done"},
                          {kExitFailed, "download failed"},
                          {kExitUsage, "bad usage"},
                          {kExitData, "missing, corrupt or mismatched (MD5) data or archive"}});
}

// Parses "--flag value" / "--flag=value" pairs against `table`; positional arguments are returned
// in `positional`.
std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args, size_t start,
                                               const std::vector<Option>& table, std::vector<std::string>& positional) {
  std::map<std::string, std::string> values;
  for (size_t i = start; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    auto name = arg.substr(2);
    std::string value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool known = std::any_of(table.begin(), table.end(), [&](const Option& o) { return name == o.flag; });
    if (!known) throw UsageError(fmt::format("unknown option --{} (see --help)", name));
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("--{}: missing value", name));
      value = args[++i];
    }
    values[name] = value;
  }
  return values;
}

int64_t parse_integer(const std::string& flag, const std::string& text, int64_t low, int64_t high) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || value < low || value > high) {
    throw UsageError(fmt::format("--{}: expected an integer in [{}, {}], got \"{}\"", flag, low, high, text));
  }
  return value;
}

int fetch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> positional;
  const auto values = parse_flags(args, 1, kFetchOptions, positional);
  if (positional.size() != 1) {
    throw UsageError("fetch: expected one data set (" + fmt::format("{}", fmt::join(data::fetchable_datasets(), ", ")) +
                     ")");
  }
  const auto& name = positional[0];
  const auto known = data::fetchable_datasets();
  if (std::find(known.begin(), known.end(), name) == known.end()) {
    throw UsageError(fmt::format("fetch: unknown data set \"{}\" (known: {})", name, fmt::join(known, ", ")));
  }
  auto archive = data::dataset_archive(name);
  if (values.count("url") != 0) archive.url = values.at("url");
  if (values.count("md5") != 0) {
    auto md5 = values.at("md5");
    std::transform(md5.begin(), md5.end(), md5.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (md5.size() != 32 || md5.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw UsageError("--md5: expected 32 hex digits, got \"" + values.at("md5") + "\"");
    }
    archive.md5 = md5;
  }
  if (values.count("url") != 0 && values.count("md5") == 0) {
    throw UsageError("--url needs --md5 (the expected MD5 of that archive)");
  }
  const auto root = values.count("root") != 0 ? values.at("root") : data::default_data_root(name);
  const auto folder = (std::filesystem::path(root) / archive.folder).string();
  const auto result = data::fetch_dataset(archive, root, [&err](const std::string& note) {
    err << "isda-data: " << note << std::endl;
  });
  if (result == data::FetchResult::kAlreadyPresent) {
    out << name << ": already present in " << folder << " (every file has its official size)\n";
  } else {
    out << name << ": fetched into " << folder << '\n';
  }
  return kExitOk;
}

int preview(const std::vector<std::string>& args, std::ostream& out) {
  std::vector<std::string> positional;
  const auto values = parse_flags(args, 1, kPreviewOptions, positional);
  if (!positional.empty()) throw UsageError(fmt::format("preview: unexpected argument \"{}\" (see --help)", positional[0]));
  if (values.count("out") == 0) throw UsageError("preview: --out FILE.png is required");
  data::PreviewOptions options;
  const auto get = [&values](const char* key, const std::string& fallback) {
    return values.count(key) != 0 ? values.at(key) : fallback;
  };
  options.dataset = get("dataset", options.dataset);
  if (options.dataset != "fashion-mnist" && options.dataset != "cifar10" && options.dataset != "cifar100") {
    throw UsageError("--dataset: expected fashion-mnist, cifar10 or cifar100, got \"" + options.dataset + "\"");
  }
  options.augment = get("augment", options.augment);
  if (options.augment != "none" && options.augment != "standard" && options.augment != "cutout" &&
      options.augment != "autoaugment") {
    throw UsageError("--augment: expected none, standard, cutout or autoaugment, got \"" + options.augment + "\"");
  }
  options.root = get("root", "");
  if (values.count("count") != 0) options.count = parse_integer("count", values.at("count"), 1, 1024);
  if (values.count("copies") != 0) options.copies = parse_integer("copies", values.at("copies"), 0, 64);
  if (values.count("scale") != 0) options.scale = parse_integer("scale", values.at("scale"), 1, 16);
  if (values.count("seed") != 0) {
    options.seed = static_cast<uint64_t>(parse_integer("seed", values.at("seed"), 0, INT64_MAX));
  }
  const auto grid = data::make_preview_grid(options);
  data::write_png(values.at("out"), grid);
  out << fmt::format("wrote {} ({} x {}: {} {} images, the originals then {} {} copies)\n", values.at("out"), grid.width,
                     grid.height, options.count, options.dataset, options.copies, options.augment);
  return kExitOk;
}

}  // namespace

int run_data_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto fail = [&err](int code, const std::string& message) {
    err << "isda-data: error: " << message << '\n';
    return code;
  };
  try {
    if (args.empty()) throw UsageError("expected a subcommand: fetch or preview (see --help)");
    if (std::find_if(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; }) !=
        args.end()) {
      print_help(out);
      return kExitOk;
    }
    if (args[0] == "fetch") return fetch(args, out, err);
    if (args[0] == "preview") return preview(args, out);
    throw UsageError(fmt::format("unknown subcommand \"{}\" (known: fetch, preview)", args[0]));
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const data::DataError& e) {
    return fail(kExitData, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(kExitUsage, e.what());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return fail(kExitFailed, message.substr(0, message.find('\n')));
  }
}

}  // namespace isda::command
