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

// `text` with &, <, >, " and ' escaped, for HTML and SVG.
std::string xml_escape(const std::string& text);

}  // namespace isda::report
