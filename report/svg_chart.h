#pragma once
// Line charts as inline SVG (no script, no external resource): lines with an optional band, axes
// with round ticks, a legend. Deterministic output, so the HTML report has golden files.

#include <string>
#include <vector>

namespace isda::report {

struct ChartLine {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> low, high;  // the band; empty for none (NaN entries fall back to y)
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartLine> lines;
  std::string empty_message = "no data yet";  // shown when no line has a point
  bool integer_x = false;                     // x ticks on whole numbers only (epochs)
  int width = 580;
  int legend_width = 170;  // beside the plot, inside `width`
  int height = 320;
};

// An <svg> element (class "chart"): one <polyline class="mean"> per line with at least two
// points, a <polygon class="band"> per band, circles where a line has few points.
std::string render_svg_chart(const Chart& chart);

// An interval plot: one horizontal line per entry (a point with its interval, and a reference value
// drawn as a hollow diamond), a vertical line at zero. For differences against a baseline.
struct IntervalEntry {
  std::string label;
  double value;      // NaN: the entry is listed without a point
  double low, high;  // NaN: no interval
  double reference;  // NaN: no reference (the paper's value)
};
struct IntervalChart {
  std::string title;
  std::string x_label;
  std::string reference_label = "paper";
  std::vector<IntervalEntry> entries;
  int width = 580;
  int label_width = 190;  // left of the plot, inside `width`
};
// An <svg> element (class "chart intervals"): a <line class="interval"> per interval, a <circle
// class="point"> per value, a <path class="reference"> per reference.
std::string render_svg_intervals(const IntervalChart& chart);

// `text` with &, <, >, " and ' escaped, for HTML and SVG.
std::string xml_escape(const std::string& text);

}  // namespace isda::report
