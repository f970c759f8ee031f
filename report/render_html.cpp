// The HTML report: every table with its Figure 2-style curves and per-run training curves, and
// every figure, in one self-contained page (inline CSS and SVG, no script, nothing fetched).
#include "report/format.h"
#include "report/render.h"
#include "report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace isda::report {
namespace {

constexpr size_t kParts = 4;  // ours, n, paper, difference under each paper column

constexpr char kStyle[] = R"(body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table.results { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
table.results th, table.results td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
table.results thead th { border-bottom: 1px solid #888; text-align: center; }
table.results tbody th { text-align: left; font-weight: normal; }
table.results tr.row-group th { font-style: italic; font-weight: bold; background: #f4f4f4; }
td.ours, td.n, td.paper { text-align: right; } td.ours { border-left: 1px solid #ccc; }
td.missing { color: #888; font-style: italic; text-align: left; }
td.diff.within { color: #1a7f37; } td.diff.outside { color: #b00020; } td.paper { color: #555; }
ul.legend, p.sweep { color: #555; font-size: 0.9em; } ul.problems { color: #b00020; }
div.charts { display: flex; flex-wrap: wrap; gap: 1em; } svg.chart { background: #fafafa; border: 1px solid #ddd; }
figure.run { margin: 0; width: 390px; } figure.run figcaption { font-size: 0.8em; color: #555; min-height: 2.4em; }
details summary { cursor: pointer; margin: 1em 0; } footer { margin-top: 3em; color: #777; font-size: 0.85em; }
)";

std::string escaped(const std::string& text) { return xml_escape(text); }

std::string section_id(const char* kind, const std::string& id) {
  std::string clean;
  for (const char c : id) clean += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return std::string(kind) + "-" + clean;
}

// A curve as a chart line: the mean with a band of one standard deviation.
ChartLine line_of(const Curve& curve) {
  ChartLine line;
  line.label = curve.runs_used > 0 ? fmt::format("{} (n={})", curve.label, curve.runs_used) : curve.label;
  bool has_spread = false;
  for (const auto& point : curve.points) {
    line.x.push_back(static_cast<double>(point.epoch));
    line.y.push_back(point.value.mean);
    line.low.push_back(point.value.mean - point.value.std);  // NaN for one seed: no band there
    line.high.push_back(point.value.mean + point.value.std);
    has_spread = has_spread || !std::isnan(point.value.std);
  }
  if (!has_spread) {  // one seed everywhere: a band of nothing would only clutter the chart
    line.low.clear();
    line.high.clear();
  }
  return line;
}

std::string figure_chart(const FigureReport& figure) {
  Chart chart;
  chart.title = figure.title;
  chart.x_label = "epoch";
  chart.integer_x = true;
  chart.y_label = std::string(figure.metric->description);
  chart.empty_message = "no finished runs yet";
  for (const auto& curve : figure.curves) chart.lines.push_back(line_of(curve));
  return render_svg_chart(chart);
}

// A run's curves under a caption naming it (a long label wraps there, not in the SVG).
std::string run_chart(const RunCurves& run) {
  Chart chart;
  chart.title = fmt::format("run {} ({})", run.id, results::to_string(run.state));
  chart.x_label = "epoch";
  chart.integer_x = true;
  chart.y_label = "error (%)";
  chart.width = 390;
  chart.height = 240;
  chart.legend_width = 120;
  for (const char* name : {"train_error", "test_error", "validation_error"}) {
    const auto& metric = *find_metric(name);
    ChartLine line;
    line.label = std::string(metric.name);
    for (const auto& epoch : *run.epochs) {
      line.x.push_back(static_cast<double>(epoch.epoch));
      line.y.push_back(value_of(metric, epoch));
    }
    const bool any = std::any_of(line.y.begin(), line.y.end(), [](double v) { return !std::isnan(v); });
    if (any) chart.lines.push_back(std::move(line));
  }
  return "<figure class=\"run\"><figcaption>" + escaped(run.label) + "</figcaption>\n" + render_svg_chart(chart) +
         "</figure>\n";
}

void write_table_head(std::ostream& out, const TableLayout& layout) {
  bool grouped = false;
  for (const auto& column : layout.columns) grouped = grouped || !column.group.empty();
  out << "<thead>\n<tr><th class=\"corner\" rowspan=\"" << (grouped ? 3 : 2) << "\"></th>";
  if (grouped) {
    for (size_t c = 0; c < layout.columns.size();) {
      size_t last = c;
      while (last + 1 < layout.columns.size() && !layout.columns[c].group.empty() &&
             layout.columns[last + 1].group == layout.columns[c].group) {
        ++last;
      }
      out << "<th colspan=\"" << (last - c + 1) * kParts << "\">" << escaped(layout.columns[c].group) << "</th>";
      c = last + 1;
    }
    out << "</tr>\n<tr>";
  }
  for (const auto& column : layout.columns) out << "<th colspan=\"" << kParts << "\">" << escaped(column.label) << "</th>";
  out << "</tr>\n<tr>";
  for (size_t c = 0; c < layout.columns.size(); ++c) out << "<th>ours</th><th>n</th><th>paper</th><th>Δ</th>";
  out << "</tr>\n</thead>\n";
}

void write_cell(std::ostream& out, const Cell& cell) {
  const auto ours = escaped(ours_text(cell, kPlainNotation));
  if (cell.status == CellStatus::results) {
    out << "<td class=\"ours" << (cell.best ? " best\"><b>" + ours + "</b>" : "\">" + ours) << "</td>";
  } else {
    out << "<td class=\"ours missing\">" << ours << "</td>";
  }
  out << "<td class=\"n\">" << seeds_text(cell) << "</td>"
      << "<td class=\"paper\">" << format_paper(cell.paper, kPlainNotation) << "</td>"
      << "<td class=\"diff" << (cell.within_two_std ? " within" : "") << "\">" << difference_text(cell, kPlainNotation)
      << "</td>";
}

void write_table(std::ostream& out, const TableReport& table) {
  const auto& layout = table.layout;
  out << "<table class=\"results\">\n";
  write_table_head(out, layout);
  out << "<tbody>\n";
  bool grouped_rows = false;
  for (const auto& row : layout.rows) grouped_rows = grouped_rows || !row.group.empty();
  for (size_t r = 0; r < layout.rows.size(); ++r) {
    const auto& row = layout.rows[r];
    if (grouped_rows && (r == 0 || layout.rows[r - 1].group != row.group)) {
      out << "<tr class=\"row-group\"><th colspan=\"" << 1 + layout.columns.size() * kParts << "\">"
          << escaped(row.group) << "</th></tr>\n";
    }
    out << "<tr><th scope=\"row\">" << escaped(row.label) << "</th>";
    for (const auto& cell : table.cells[r]) write_cell(out, cell);
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

void write_list(std::ostream& out, const char* css_class, const std::vector<std::string>& items) {
  if (items.empty()) return;
  out << "<ul class=\"" << css_class << "\">\n";
  for (const auto& item : items) out << "<li>" << escaped(item) << "</li>\n";
  out << "</ul>\n";
}

void write_run_curves(std::ostream& out, const std::vector<RunCurves>& runs) {
  size_t without_epochs = 0;
  for (const auto& run : runs) without_epochs += run.epochs->empty();
  if (runs.size() == without_epochs) return;
  out << "<details class=\"runs\">\n<summary>Training curves of each run (" << runs.size() - without_epochs
      << (without_epochs > 0 ? fmt::format("; {} without epochs yet", without_epochs) : "") << ")</summary>\n"
      << "<div class=\"charts\">\n";
  for (const auto& run : runs) {
    if (!run.epochs->empty()) out << run_chart(run);
  }
  out << "</div>\n</details>\n";
}

// The comparison grid as a table, and one interval plot of Δ per compared column.
void write_comparisons(std::ostream& out, const TableReport& table) {
  const auto grid = comparison_grid(table);
  out << "<h3>Against the baseline: differences with Welch's 95% confidence intervals</h3>\n"
      << "<table class=\"results comparisons\">\n<thead>\n<tr><th class=\"corner\" rowspan=\"2\"></th>";
  for (const auto& column : grid.layout.columns) {
    const auto name = column.group.empty() ? column.label : column.group + " · " + column.label;
    out << "<th colspan=\"4\">" << escaped(name) << "</th>";
  }
  out << "</tr>\n<tr>";
  for (size_t c = 0; c < grid.columns.size(); ++c) out << "<th>Δ [95% CI]</th><th>p</th><th>paper Δ</th><th>seeds</th>";
  out << "</tr>\n</thead>\n<tbody>\n";
  for (size_t i = 0; i < grid.rows.size(); ++i) {
    const auto& row = grid.layout.rows[i];
    out << "<tr><th scope=\"row\">" << escaped(row.group.empty() ? row.label : row.group + " · " + row.label) << "</th>";
    for (const auto c : grid.columns) {
      const auto& comparison = table.cells[grid.rows[i]][c].comparison;
      if (!comparison) {
        out << "<td></td><td></td><td></td><td></td>";
        continue;
      }
      const bool significant = comparison->ours.status == WelchStatus::ok && comparison->ours.p_value < 0.05;
      const char* agreement = comparison->agreement == Comparison::Agreement::consistent     ? " within"
                              : comparison->agreement == Comparison::Agreement::inconsistent ? " outside"
                                                                                             : "";
      out << "<td class=\"ours\">" << (significant ? "<b>" : "") << escaped(comparison_interval_text(*comparison))
          << (significant ? "</b>" : "") << "</td><td class=\"n\">" << escaped(p_value_text(comparison->ours))
          << "</td><td class=\"diff" << agreement << "\">" << escaped(paper_difference_text(*comparison, kPlainNotation))
          << "</td><td class=\"n\">" << escaped(seeds_advice_text(*comparison)) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n";
  auto legend = comparison_legend_lines(kPlainNotation);
  legend.push_back("bold: p < 0.05");
  write_list(out, "legend", legend);
  out << "<div class=\"charts\">\n";
  for (size_t k = 0; k < grid.columns.size(); ++k) {
    const auto& column = grid.layout.columns[k];
    IntervalChart chart;
    chart.title = "Δ " + (column.group.empty() ? column.label : column.group + " · " + column.label);
    chart.x_label = "difference from the baseline (" + std::string(find_metric(column.metric)->description) + ")";
    chart.reference_label = "paper Δ";
    for (size_t i = 0; i < grid.rows.size(); ++i) {
      const auto& row = grid.layout.rows[i];
      const auto& comparison = table.cells[grid.rows[i]][grid.columns[k]].comparison;
      IntervalEntry entry{row.group.empty() ? row.label : row.group + " · " + row.label, NAN, NAN, NAN, NAN};
      if (comparison) {
        entry.value = comparison->ours.difference;
        entry.low = comparison->ours.low;
        entry.high = comparison->ours.high;
        entry.reference = comparison->paper_difference;
      }
      chart.entries.push_back(entry);
    }
    out << render_svg_intervals(chart);
  }
  out << "</div>\n";
}

// The class consistency of the generator runs whose images the table's cells use.
void write_consistency(std::ostream& out, const TableReport& table) {
  const auto lines = consistency_lines(table, kPlainNotation);
  if (lines.empty()) return;
  out << "<ul class=\"legend\">\n<li>" << escaped(consistency_heading(kPlainNotation)) << ":\n";
  write_list(out, "consistency", lines);
  out << "</li>\n</ul>\n";
}

// Links to each generator run's sample grid (a PNG in its run directory, not embedded: the page
// fetches nothing), each beside the run's class consistency.
void write_generator_samples(std::ostream& out, const std::vector<GeneratorSamples>& generators) {
  if (generators.empty()) return;
  out << "<h3>Generator runs: samples, one row per class, and class consistency</h3>\n<p class=\"legend\">"
      << escaped(consistency_heading(kPlainNotation)) << "</p>\n<ul class=\"generators\">\n";
  for (const auto& g : generators) {
    out << "<li>" << escaped(g.run.label) << ", run " << escaped(g.run.id) << " ("
        << escaped(results::to_string(g.run.state)) << "): <a href=\"" << (g.png_path.rfind('/', 0) == 0 ? "file://" : "")
        << escaped(g.png_path) << "\">" << escaped(g.png_path) << "</a>; class consistency "
        << escaped(consistency_text(g.run)) << "</li>\n";
  }
  out << "</ul>\n";
}

void write_table_section(std::ostream& out, const HtmlTableSection& section) {
  const auto& table = section.table;
  out << "<section class=\"table\" id=\"" << section_id("table", table.layout.id) << "\">\n<h2>"
      << escaped(table.layout.title) << "</h2>\n<p class=\"sweep\">"
      << escaped(sweep_line(table.sweep, table.counts, kPlainNotation)) << "</p>\n";
  write_table(out, table);
  auto legend = legend_lines(table, kPlainNotation, "in bold");
  if (!table.layout.note.empty()) legend.push_back("note: " + table.layout.note);
  for (const auto& line : epoch_range_lines(table, kPlainNotation)) legend.push_back("epochs: " + line);
  write_list(out, "legend", legend);
  write_consistency(out, table);
  write_list(out, "problems", problem_lines(table, kPlainNotation));
  if (has_comparisons(table)) write_comparisons(out, table);
  if (!section.curves.empty()) {
    const auto& metric = *section.curves.front().metric;
    out << "<h3>" << escaped(std::string(metric.description))
        << " per epoch: mean and a band of one sample standard deviation (n-1) over seeds</h3>\n<div class=\"charts\">\n";
    for (const auto& chart : section.curves) out << figure_chart(chart);
    out << "</div>\n";
  }
  write_run_curves(out, section.runs);
  write_generator_samples(out, section.generators);
  out << "</section>\n";
}

void write_figure_section(std::ostream& out, const HtmlFigureSection& section) {
  const auto& figure = section.figure;
  out << "<section class=\"figure\" id=\"" << section_id("figure", figure.id) << "\">\n<h2>" << escaped(figure.title)
      << "</h2>\n<p class=\"sweep\">" << escaped(sweep_line(figure.sweep, figure.counts, kPlainNotation)) << "</p>\n"
      << "<div class=\"charts\">\n"
      << figure_chart(figure) << "</div>\n";
  auto legend = figure_legend_lines(figure, kPlainNotation);
  if (!figure.note.empty()) legend.push_back("note: " + figure.note);
  write_list(out, "legend", legend);
  std::vector<std::string> problems;
  for (const auto& curve : figure.curves) {
    const auto status = curve_status(curve, kPlainNotation);
    if (!status.empty()) problems.push_back(curve.label + ": " + status);
  }
  write_list(out, "problems", problems);
  write_run_curves(out, section.runs);
  out << "</section>\n";
}

}  // namespace

std::string render_html(const HtmlReport& report) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>isda-report: ISDA reproduction</title>\n<style>\n"
      << kStyle << "</style>\n</head>\n<body>\n<header>\n<h1>ISDA reproduction: the paper's tables and curves</h1>\n"
      << "<p>From the results store <code>" << escaped(report.store_path)
      << "</code>. Every ± is a sample standard deviation (n-1) over seeds; the paper's values stand beside ours.</p>\n"
      << "<nav><ul>\n";
  for (const auto& section : report.tables) {
    out << "<li><a href=\"#" << section_id("table", section.table.layout.id) << "\">"
        << escaped(section.table.layout.title) << "</a></li>\n";
  }
  for (const auto& section : report.figures) {
    out << "<li><a href=\"#" << section_id("figure", section.figure.id) << "\">" << escaped(section.figure.title)
        << "</a></li>\n";
  }
  out << "</ul></nav>\n</header>\n<main>\n";
  for (const auto& section : report.tables) write_table_section(out, section);
  for (const auto& section : report.figures) write_figure_section(out, section);
  out << "</main>\n<footer>Generated by isda-report; self-contained (inline CSS and SVG, no scripts).</footer>\n"
      << "</body>\n</html>\n";
  return out.str();
}

}  // namespace isda::report
