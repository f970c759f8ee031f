#include "command/data_command.h"

#include "common/exit_codes.h"
#include "common/options.h"
#include "data/data_error.h"
#include "data/datasets.h"
#include "data/fetch.h"
#include "data/png.h"
#include "data/preview.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <ostream>
#include <stdexcept>

namespace isda::command {
namespace {

// Where the data set's files are: the name isda-train uses for the same folder (--root is the
// spelling isda-data had first).
Option data_root_option(const std::string& help, const std::string& default_text) {
  return value_option("--data-root", "DIR", help).default_described(default_text).alias("--root", /*deprecated=*/true);
}

std::string normalized_md5(const std::string& text) {
  auto md5 = text;
  std::transform(md5.begin(), md5.end(), md5.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (md5.size() != 32 || md5.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw UsageError("expected 32 hex digits, got \"" + text + "\"");
  }
  return md5;
}

int fetch(const Arguments& args, std::ostream& out, std::ostream& err) {
  const auto& positional = args.positional();
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
  if (args.has("--url")) archive.url = args.text("--url");
  if (args.has("--md5")) archive.md5 = args.convert("--md5", normalized_md5);
  if (args.has("--url") && !args.has("--md5")) throw UsageError("--url needs --md5 (the expected MD5 of that archive)");
  const auto root = args.has("--data-root") ? args.text("--data-root") : data::default_data_root(name);
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

int preview(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  if (!args.positional().empty()) {
    throw UsageError(fmt::format("preview: unexpected argument \"{}\" (see --help)", args.positional()[0]));
  }
  if (!args.has("--out")) throw UsageError("preview: --out FILE.png is required");
  data::PreviewOptions options;
  options.dataset = args.text("--dataset");
  options.augment = args.text("--augment");
  options.root = args.text("--data-root");
  options.count = args.integer("--count");
  options.copies = args.integer("--copies");
  options.scale = args.integer("--scale");
  options.seed = static_cast<uint64_t>(args.integer("--seed"));
  const auto& path = args.text("--out");
  const auto grid = data::make_preview_grid(options);
  data::write_png(path, grid);
  out << fmt::format("wrote {} ({} x {}: {} {} images, the originals then {} {} copies)\n", path, grid.width,
                     grid.height, options.count, options.dataset, options.copies, options.augment);
  return kExitOk;
}

Command fetch_command_line() {
  Command c;
  c.name = "isda-data fetch";
  c.positional = fmt::format("{}", fmt::join(data::fetchable_datasets(), "|"));
  c.description =
      "downloads the official archive, checks its published MD5 and unpacks it into\n"
      "DIR/cifar-10-batches-bin (or DIR/cifar-100-binary), the layout isda-train reads; data already\n"
      "there with the official file sizes is left alone. A failed download leaves nothing behind.\n";
  c.options = {
      data_root_option("where the archive's folder is unpacked", "$ISDA_DATA_ROOT/<dataset> or data/<dataset>"),
      value_option("--url", "URL", "download from this URL instead (https, http or file://)")
          .default_described("the official archive"),
      value_option("--md5", "HEX", "expected MD5 of the archive at --url").default_described("the published MD5"),
  };
  c.run = fetch;
  return c;
}

Command preview_command_line() {
  const data::PreviewOptions defaults;
  Command c;
  c.name = "isda-data preview";
  c.usage = {"--out FILE.png [--dataset NAME] [--augment KIND] [--count N] ..."};
  c.description =
      "a PNG grid, one column per training image: the originals on the first row, then\n"
      "augmented copies (the batched augmentation isda-train applies).\n";
  c.options = {
      value_option("--dataset", "NAME", "the data set")
          .one_of({"fashion-mnist", "cifar10", "cifar100"})
          .default_to(defaults.dataset),
      value_option("--augment", "KIND", "the augmentation")
          .one_of({"none", "standard", "cutout", "autoaugment"})
          .default_to(defaults.augment),
      value_option("--out", "FILE.png", "the PNG to write (required)"),
      data_root_option("folder holding the data set files", "the data set's default location"),
      value_option("--count", "N", "training images, one column each")
          .integer(1, 1024)
          .default_to(std::to_string(defaults.count)),
      value_option("--copies", "K", "augmented rows below the originals")
          .integer(0, 64)
          .default_to(std::to_string(defaults.copies)),
      value_option("--scale", "S", "pixel size of the tiles").integer(1, 16).default_to(std::to_string(defaults.scale)),
      value_option("--seed", "S", "seed of the augmenter")
          .integer(0, std::numeric_limits<int64_t>::max())
          .default_to(std::to_string(defaults.seed)),
  };
  c.run = preview;
  return c;
}

}  // namespace

const Command& data_command_line() {
  static const Command command = [] {
    Command c;
    c.name = "isda-data";
    c.description = "Fetches the data sets isda-train reads and previews what its augmentations do to them.\n";
    c.subcommands = {fetch_command_line(), preview_command_line()};
    c.exit_codes = {{kExitOk, "done"},
                    {kExitFailed, "download failed"},
                    {kExitUsage, "bad usage"},
                    {kExitData, "missing, corrupt or mismatched (MD5) data or archive"}};
    return c;
  }();
  return command;
}

int run_data_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto fail = [&err](int code, const std::string& message) {
    err << "isda-data: error: " << message << '\n';
    return code;
  };
  try {
    const auto parsed = parse_subcommand(data_command_line(), args);
    if (parsed.arguments.help()) {  // either subcommand's --help too: the two are one page
      out << help_text(data_command_line());
      return kExitOk;
    }
    return parsed.command.run(parsed.arguments, out, err);
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
