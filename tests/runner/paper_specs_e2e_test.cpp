// Every spec in experiments/ runs as written, at toy size: its smoke profile through isda-run (the
// sizes shrunk further here: a few dozen images), then isda-report --table N (or --figure N), and
// every cell the sweep ran has a value. The topology is the spec's: Table 4's ranks on
// ImageNet-format JPEG folders, Table 3's generator runs (each recording its class consistency,
// which the report shows) before the classifiers that use them, the
// lambda0 searches before their final runs. In CI each spec runs one seed and a fixed sample of its
// cells (the cheapest networks, enough rows and columns to cover every kind of run); with
// ISDA_FULL_SPECS=1 the full set of cells runs (label slow: hours on 2 cores).
#include "support/idx_files.h"
#include "support/image_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace isda {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// CIFAR binary records (label bytes, then 3072 pixel bytes) of random images and labels.
void write_cifar_file(const std::string& path, int records, int label_bytes, int classes, std::mt19937& random) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  std::string record(static_cast<size_t>(label_bytes + 3072), '\0');
  for (int r = 0; r < records; ++r) {
    for (int b = 0; b < label_bytes; ++b) record[static_cast<size_t>(b)] = static_cast<char>(random() % static_cast<unsigned>(classes));
    for (size_t p = static_cast<size_t>(label_bytes); p < record.size(); ++p) record[p] = static_cast<char>(random() & 0xff);
    out.write(record.data(), static_cast<std::streamsize>(record.size()));
  }
}

// One CSV line's fields (RFC 4180 quoting, as isda-report writes it).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

struct SpecCase {
  std::string file;    // in experiments/
  std::string table;   // isda-report --table (or --figure with `figure`)
  bool figure = false;
  // CI's sample: the only values kept of these keys (every other value of the spec's grid and
  // zips is excluded). Empty: every cell.
  std::map<std::string, std::vector<nlohmann::json>> sample;
  int sample_cells = 0;  // table cells the sample fills (figure: series)
  int epochs = 2;        // the smoke profile's, or fewer for the widest networks
};

std::ostream& operator<<(std::ostream& out, const SpecCase& c) { return out << c.file; }

const std::vector<SpecCase>& cases() {
  static const std::vector<SpecCase> all = {
      {"quickstart.json", "quickstart", false, {}, 2},
      {"cifar10_resnet32.json", "resnet32", false, {}, 2},
      {"table1.json", "1", false, {{"model", {"resnet32"}}}, 4},
      {"table2.json", "2", false, {{"model", {"shake_shake26_2x32d"}}, {"dataset", {"cifar10"}}}, 4},
      {"table3.json", "3", false, {{"model", {"resnet110"}}, {"dataset", {"cifar10"}}}, 13},
      {"table4.json", "4", false, {}, 18, 1},
      {"table5.json", "5", false,
       {{"dataset", {"cifar10"}}, {"covariance", {"full"}}, {"lambda_schedule", {"epoch"}}}, 2, 1},
      {"figure2.json", "2", true, {}, 2, 1},
  };
  return all;
}

class PaperSpecs : public ::testing::TestWithParam<SpecCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir;
    const auto root = dir_->file("data");
    fs::create_directories(root);
    testing::write_synthetic_fashion_mnist(root, 384, 100, 9);
    std::mt19937 random(5);
    // More than the 5,000 images a hold-out keeps back (the lambda0 searches train on the rest).
    for (int b = 1; b <= 5; ++b) {
      write_cifar_file(root + "/cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin", 1100, 1, 10, random);
    }
    write_cifar_file(root + "/cifar-10-batches-bin/test_batch.bin", 200, 1, 10, random);
    write_cifar_file(root + "/cifar-100-binary/train.bin", 5500, 2, 100, random);
    write_cifar_file(root + "/cifar-100-binary/test.bin", 200, 2, 100, random);
    testing::write_image_folders(root + "/imagenet", /*classes=*/4, /*train_per_class=*/24, /*val_per_class=*/4, 40, 36, 3);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // The spec as written, pointed at the test's data, its smoke profile shrunk to a few dozen
  // images; in the CI sample one seed and only the sample's values.
  std::string derived_spec(const SpecCase& c, bool full) const {
    auto spec = nlohmann::json::parse(read_text(std::string(ISDA_SOURCE_DIR) + "/experiments/" + c.file));
    spec["base"]["data_root"] = dir_->file("data");
    auto& smoke = spec["profiles"]["smoke"];
    EXPECT_TRUE(smoke.is_object()) << c.file << " has no smoke profile";
    smoke["train_limit"] = 64;
    smoke["test_limit"] = 32;
    smoke["epochs"] = std::min<int>(c.epochs, smoke.value("epochs", 2));
    if (smoke.contains("image_size")) smoke["image_size"] = 32;  // image folders: the smallest crop
    if (!full) {
      spec["seeds"] = nlohmann::json::array({spec["seeds"][0]});
      auto& exclude = spec["exclude"];
      if (exclude.is_null()) exclude = nlohmann::json::array();
      for (const auto& [key, kept] : c.sample) {
        std::set<std::string> values;
        const auto collect = [&](const nlohmann::json& lists) {
          if (lists.is_object() && lists.contains(key)) {
            for (const auto& v : lists[key]) values.insert(v.dump());
          }
        };
        collect(spec["grid"]);
        if (spec["zip"].is_array()) {
          for (const auto& z : spec["zip"]) collect(z);
        }
        EXPECT_FALSE(values.empty()) << c.file << ": no values of " << key;
        for (const auto& value : values) {
          const auto parsed = nlohmann::json::parse(value);
          if (std::find(kept.begin(), kept.end(), parsed) == kept.end()) exclude.push_back({{key, parsed}});
        }
      }
    }
    const auto path = dir_->file((full ? "full-" : "ci-") + c.file);
    std::ofstream(path) << spec.dump(2);
    return path;
  }

  void run_spec(const SpecCase& c, bool full) {
    const auto spec = derived_spec(c, full);
    const auto name = (full ? "full-" : "ci-") + fs::path(c.file).stem().string();
    const auto db = dir_->file(name + ".db");
    const auto run = testing::run_process({ISDA_RUN_BINARY, spec, "--profile", "smoke", "--db", db, "--runs-dir",
                                           dir_->file(name + "-runs"), "--gpus", "none", "--cpu-slots", "2", "--threads",
                                           "1", "--worker", ISDA_TRAIN_BINARY, "--plain"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const auto report = testing::run_process({ISDA_REPORT_BINARY, c.figure ? "--figure" : "--table", c.table, "--db", db,
                                              "--format", "csv"});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    const auto text = testing::run_process({ISDA_REPORT_BINARY, c.figure ? "--figure" : "--table", c.table, "--db", db});
    EXPECT_THAT(text.out, HasSubstr("Profile smoke (")) << "a toy-size table says so in its title";
    int generator_cells = 0;  // cells with generated images, each with its generators' class consistency

    std::istringstream lines(report.out);
    std::string line;
    std::getline(lines, line);
    const auto header = csv_fields(line);
    const auto column = [&](const char* field) {
      return static_cast<size_t>(std::find(header.begin(), header.end(), field) - header.begin());
    };
    int filled = 0;
    std::set<std::string> series;
    while (std::getline(lines, line)) {
      const auto f = csv_fields(line);
      if (c.figure) {
        EXPECT_FALSE(f[column("mean")].empty()) << line;
        series.insert(f[column("series")]);
        continue;
      }
      const int runs = std::stoi(f[column("runs")]);
      if (runs == 0) {
        // A cell the spec never runs (no paper value either: Table 3's WGAN on CIFAR-100), or one
        // left out of CI's sample.
        EXPECT_TRUE(!full || f[column("paper_mean")].empty()) << c.file << ": nothing ran for " << line;
        continue;
      }
      EXPECT_EQ(f[column("status")], "results") << line;
      EXPECT_EQ(f[column("done")], f[column("runs")]) << line;
      EXPECT_FALSE(f[column("mean")].empty()) << line;
      if (!f[column("generator_run")].empty()) {
        EXPECT_FALSE(f[column("class_consistency")].empty()) << line;
        EXPECT_FALSE(f[column("judge_test_accuracy")].empty()) << line;
        ++generator_cells;
      }
      ++filled;
    }
    if (c.file == "table3.json") {
      EXPECT_GT(generator_cells, 0) << report.out;
      EXPECT_THAT(text.out, HasSubstr("generator class consistency")) << text.out;
    }
    if (c.figure) {
      EXPECT_GE(static_cast<int>(series.size()), c.sample_cells) << report.out;
    } else if (!full) {
      EXPECT_EQ(filled, c.sample_cells) << report.out;
    }
  }

  static inline testing::ScratchDir* dir_ = nullptr;
};

TEST_P(PaperSpecs, SmokeProfileRunsAndFillsItsTable) { run_spec(GetParam(), /*full=*/false); }

TEST_P(PaperSpecs, SmokeProfileFillsEveryCellOfItsTable) {
  const char* full = std::getenv("ISDA_FULL_SPECS");
  if (full == nullptr || std::string(full) != "1") {
    GTEST_SKIP() << "every cell of every seed takes hours on 2 cores: set ISDA_FULL_SPECS=1 to run it";
  }
  run_spec(GetParam(), /*full=*/true);
}

INSTANTIATE_TEST_SUITE_P(Experiments, PaperSpecs, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<SpecCase>& param) {
                           auto name = fs::path(param.param.file).stem().string();
                           for (auto& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

// Every spec of experiments/ is one of the cases above: a new spec cannot skip this test.
TEST(PaperSpecsList, CoversEverySpecInExperiments) {
  std::set<std::string> listed, found;
  for (const auto& c : cases()) listed.insert(c.file);
  for (const auto& entry : fs::directory_iterator(std::string(ISDA_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() == ".json") found.insert(entry.path().filename().string());
  }
  EXPECT_EQ(listed, found);
}

}  // namespace
}  // namespace isda
