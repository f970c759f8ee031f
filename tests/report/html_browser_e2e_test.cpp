// The HTML report in a real headless browser (Debian's chromium): the real isda-report writes it
// from the example store; the page must be self-contained, and once rendered its tables and SVG
// curves must have real size on screen. Skips when chromium is not installed.
#include "example_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef ISDA_REPORT_BINARY
#error "ISDA_REPORT_BINARY must name the isda-report binary"
#endif

namespace isda::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }  // our scratch paths have no quote

// $ISDA_CHROMIUM, else chromium on the PATH, else "".
std::string find_chromium() {
  if (const char* path = std::getenv("ISDA_CHROMIUM")) return path;
  if (std::filesystem::exists("/usr/bin/chromium")) return "/usr/bin/chromium";
  return std::system("command -v chromium >/dev/null 2>&1") == 0 ? "chromium" : "";
}

// Measures, inside the browser, what was laid out and drawn; the result lands in the dumped DOM.
constexpr char kRenderCheck[] = R"(<script>
(function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var all = function (selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); };
  var drawn = function (element) { var box = element.getBBox(); return box.width > 5 && box.height > 1; };
  var tables = all('table.results');
  var charts = all('svg.chart');
  var lines = all('svg.chart polyline.mean');
  var bands = all('svg.chart polygon.band');
  var result = {
    tables: tables.length,
    tables_laid_out: tables.filter(function (t) { return t.offsetWidth > 200 && t.offsetHeight > 50; }).length,
    cells: all('table.results td').length,
    best: all('table.results td.best b').map(function (b) { return b.textContent; }),
    charts: charts.length,
    charts_laid_out: charts.filter(function (s) { var r = s.getBoundingClientRect(); return r.width > 300 && r.height > 150; }).length,
    intervals_drawn: all('svg.intervals line.interval').filter(function (l) { return l.getBBox().width > 5; }).length,
    lines: lines.length,
    lines_drawn: lines.filter(drawn).length,
    bands: bands.length,
    bands_drawn: bands.filter(drawn).length
  };
  var pre = document.createElement('pre');
  pre.id = 'render-check';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
})();
</script>
)";

class ReportHtmlBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium): browser test skipped";
    testing::build_example_store(scratch_.file("isda.db"), scratch_.file("logs"));
    const auto command = fmt::format("{} --db {} --format html --out {} 2>{}", quoted(ISDA_REPORT_BINARY),
                                     quoted(scratch_.file("isda.db")), quoted(report_path()),
                                     quoted(scratch_.file("report.err")));
    ASSERT_EQ(std::system(command.c_str()), 0) << read_file(scratch_.file("report.err"));
  }

  std::string report_path() const { return scratch_.file("report.html"); }

  // Runs headless chromium on a file with `mode` (e.g. --dump-dom), stdout to `output`.
  void run_chromium(const std::string& html, const std::string& mode, const std::string& output) const {
    const auto command = fmt::format(
        "timeout 60 {} --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir={} {} file://{} >{} 2>{}",
        quoted(chromium_), quoted(scratch_.file("chromium-profile")), mode, html, quoted(output),
        quoted(scratch_.file("chromium.log")));
    ASSERT_EQ(std::system(command.c_str()), 0) << "chromium failed: " << read_file(scratch_.file("chromium.log"));
  }

  testing::ScratchDir scratch_;
  std::string chromium_;
};

TEST_F(ReportHtmlBrowser, IsSelfContained) {
  const auto html = read_file(report_path());
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_THAT(html, Not(HasSubstr("href=\"http")));
}

TEST_F(ReportHtmlBrowser, RendersTheTablesAndCurves) {
  const auto checked = scratch_.file("checked.html");
  auto html = read_file(report_path());
  html.insert(html.rfind("</body>"), kRenderCheck);
  std::ofstream(checked) << html;
  run_chromium(checked, "--dump-dom", scratch_.file("dom.html"));

  const auto dom = read_file(scratch_.file("dom.html"));
  EXPECT_THAT(dom, HasSubstr("Table 5: ablation of ISDA"));
  EXPECT_THAT(dom, HasSubstr("Figure 2: test error of WRN-28-10 on CIFAR-100"));
  const auto begin = dom.find("<pre id=\"render-check\">");
  ASSERT_NE(begin, std::string::npos) << "the check script did not run; DOM:\n" << dom.substr(0, 2000);
  const auto start = dom.find('>', begin) + 1;
  const auto result = nlohmann::json::parse(dom.substr(start, dom.find("</pre>", start) - start));

  EXPECT_EQ(result["tables"], 3) << result;  // Table 3, Table 5 and Table 5 against its baseline
  EXPECT_EQ(result["tables_laid_out"], 3) << result;
  // 4 parts per cell; the comparison grid: 3 rows against Basic x 2 columns.
  EXPECT_EQ(result["cells"], (5 * 3 + 4 * 2 + 3 * 2) * 4) << result;
  EXPECT_EQ(result["best"], nlohmann::json({"3.70", "6.35 ± 0.07", "27.70", "18.40", "3.56 ± 0.06"})) << result;
  // Table 5: 2 columns and 2 interval plots of Δ; Table 3: 3 columns x 3 row groups; Figure 2; 36
  // runs with epochs.
  EXPECT_EQ(result["charts"], 2 + 2 + 9 + 1 + 36) << result;
  // The interval plots: Identity and ISDA on CIFAR-10 have an interval (the others have none).
  EXPECT_EQ(result["intervals_drawn"], 2) << result;
  EXPECT_EQ(result["charts_laid_out"], result["charts"]) << result;
  EXPECT_GT(result["lines"].get<int>(), 40) << result;
  EXPECT_EQ(result["lines_drawn"], result["lines"]) << result;
  EXPECT_GT(result["bands"].get<int>(), 5) << result;
  EXPECT_EQ(result["bands_drawn"], result["bands"]) << result;
}

TEST_F(ReportHtmlBrowser, ScreenshotIsNotBlank) {
  const auto blank = scratch_.file("blank.html");
  std::ofstream(blank) << "<!DOCTYPE html><html><body></body></html>\n";
  const auto size = [this](const std::string& html, const std::string& png) {
    run_chromium(html, "--hide-scrollbars --window-size=1280,1600 --screenshot=" + quoted(png), scratch_.file("out.txt"));
    return std::filesystem::exists(png) ? std::filesystem::file_size(png) : 0;
  };
  const auto blank_size = size(blank, scratch_.file("blank.png"));
  const auto report_size = size(report_path(), scratch_.file("report.png"));
  ASSERT_GT(blank_size, 0u) << "no screenshot of a blank page";
  // A white page compresses to almost nothing; tables, text and curves do not.
  EXPECT_GT(report_size, 10 * blank_size) << "report " << report_size << " bytes, blank " << blank_size;
}

}  // namespace
}  // namespace isda::report
