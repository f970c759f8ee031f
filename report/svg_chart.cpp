#include "report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace isda::report {
namespace {

// Tableau 10: distinguishable, and readable on white.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kMarginLeft = 58, kMarginTop = 30, kMarginBottom = 44, kMarginRight = 16;
constexpr size_t kMarkersUpTo = 12;  // draw a dot at each point of a line this short

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double value) {
    if (std::isnan(value)) return;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  bool empty() const { return low > high; }
};

// About `count` round tick values (1, 2 or 5 times a power of ten) covering [low, high].
std::vector<double> nice_ticks(double low, double high, int count, double minimum_step = 0) {
  const double raw = std::max((high - low) / count, minimum_step);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double tick = std::ceil(low / step - 1e-9) * step; tick <= high + step * 1e-9; tick += step) {
    ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return fmt::format("{:.{}f}", value, decimals);
}

// Maps data coordinates to the plot area.
class Frame {
 public:
  Frame(Range x, Range y, int left, int top, int right, int bottom)
      : x_(x), y_(y), left_(left), top_(top), right_(right), bottom_(bottom) {}
  double px(double x) const { return left_ + (x - x_.low) / (x_.high - x_.low) * (right_ - left_); }
  double py(double y) const { return bottom_ - (y - y_.low) / (y_.high - y_.low) * (bottom_ - top_); }
  std::string point(double x, double y) const { return fmt::format("{:.1f},{:.1f}", px(x), py(y)); }

 private:
  Range x_, y_;
  int left_, top_, right_, bottom_;
};

double band_value(const std::vector<double>& band, size_t i, double fallback) {
  return i < band.size() && !std::isnan(band[i]) ? band[i] : fallback;
}

// Widens a range to round numbers with a little room, and away from zero width.
Range padded(Range range) {
  if (range.empty()) return {0, 1};
  if (range.high - range.low < 1e-12) return {range.low - 1, range.high + 1};
  const double room = (range.high - range.low) * 0.05;
  return {range.low - room, range.high + room};
}

void write_axes(std::ostream& out, const Chart& chart, const Frame& frame, const Range& x, const Range& y, int left,
                int top, int right, int bottom) {
  out << fmt::format(R"(<rect class="plot" x="{}" y="{}" width="{}" height="{}" fill="#ffffff" stroke="#999999"/>)",
                     left, top, right - left, bottom - top)
      << '\n';
  const auto y_ticks = nice_ticks(y.low, y.high, 5);
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (const double tick : y_ticks) {
    const double py = frame.py(tick);
    out << fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e6e6e6"/>)", left, py, right, py)
        << fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end" dominant-baseline="middle">{}</text>)", left - 6, py,
                       tick_label(tick, y_step))
        << '\n';
  }
  const auto x_ticks = nice_ticks(x.low, x.high, 6, chart.integer_x ? 1.0 : 0.0);
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  for (const double tick : x_ticks) {
    const double px = frame.px(tick);
    out << fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#999999"/>)", px, bottom, px, bottom + 4)
        << fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", px, bottom + 16,
                       tick_label(tick, x_step))
        << '\n';
  }
  out << fmt::format(R"(<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text>)", (left + right) / 2,
                     bottom + 34, xml_escape(chart.x_label))
      << '\n'
      << fmt::format(R"svg(<text class="axis-label" x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>)svg",
                     (top + bottom) / 2, (top + bottom) / 2, xml_escape(chart.y_label))
      << '\n';
}

void write_line(std::ostream& out, const ChartLine& line, const Frame& frame, const char* color) {
  std::string upper, lower, mean;
  size_t points = 0;
  for (size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
    if (std::isnan(line.y[i])) continue;
    ++points;
    mean += (mean.empty() ? "" : " ") + frame.point(line.x[i], line.y[i]);
    if (line.low.empty()) continue;
    upper += (upper.empty() ? "" : " ") + frame.point(line.x[i], band_value(line.high, i, line.y[i]));
    lower = frame.point(line.x[i], band_value(line.low, i, line.y[i])) + (lower.empty() ? "" : " ") + lower;
  }
  if (points == 0) return;
  if (!upper.empty()) {
    out << fmt::format(R"(<polygon class="band" points="{} {}" fill="{}" fill-opacity="0.18" stroke="none"/>)", upper,
                       lower, color)
        << '\n';
  }
  if (points > 1) {
    out << fmt::format(R"(<polyline class="mean" points="{}" fill="none" stroke="{}" stroke-width="1.8"/>)", mean, color)
        << '\n';
  }
  if (points > kMarkersUpTo) return;
  for (size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
    if (std::isnan(line.y[i])) continue;
    out << fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", frame.px(line.x[i]),
                       frame.py(line.y[i]), color);
  }
  out << '\n';
}

void write_legend(std::ostream& out, const Chart& chart, int x, int top) {
  for (size_t i = 0; i < chart.lines.size(); ++i) {
    const int y = top + 8 + static_cast<int>(i) * 18;
    const char* color = kColors[i % std::size(kColors)];
    out << fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"/>)", x, y, x + 18, y, color)
        << fmt::format(R"(<text x="{}" y="{}" dominant-baseline="middle">{}</text>)", x + 24, y,
                       xml_escape(chart.lines[i].label))
        << '\n';
  }
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string render_svg_chart(const Chart& chart) {
  Range x_range, y_range;
  for (const auto& line : chart.lines) {
    for (size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
      if (std::isnan(line.y[i])) continue;
      x_range.add(line.x[i]);
      y_range.add(line.y[i]);
      y_range.add(band_value(line.low, i, line.y[i]));
      y_range.add(band_value(line.high, i, line.y[i]));
    }
  }
  const bool has_data = !x_range.empty();
  const Range x = x_range.empty() || x_range.high - x_range.low < 1e-12 ? padded(x_range) : x_range;
  const Range y = padded(y_range);
  // Tall enough for the legend, which lists every line beside the plot.
  const int height = std::max(chart.height, kMarginTop + kMarginBottom + 18 * static_cast<int>(chart.lines.size()));
  const int left = kMarginLeft, top = kMarginTop;
  const int right = chart.width - chart.legend_width - kMarginRight, bottom = height - kMarginBottom;
  const Frame frame(x, y, left, top, right, bottom);

  std::ostringstream out;
  out << fmt::format(R"(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" )"
                     R"(viewBox="0 0 {} {}" role="img" font-family="sans-serif" font-size="11">)",
                     chart.width, height, chart.width, height)
      << '\n'
      << "<title>" << xml_escape(chart.title) << "</title>\n"
      << fmt::format(R"(<text class="chart-title" x="{}" y="18" font-size="13" font-weight="bold">{}</text>)", left,
                     xml_escape(chart.title))
      << '\n';
  write_axes(out, chart, frame, x, y, left, top, right, bottom);
  if (!has_data) {
    out << fmt::format(R"(<text class="empty" x="{}" y="{}" text-anchor="middle" fill="#777777">{}</text>)",
                       (left + right) / 2, (top + bottom) / 2, xml_escape(chart.empty_message))
        << '\n';
  }
  for (size_t i = 0; i < chart.lines.size(); ++i) write_line(out, chart.lines[i], frame, kColors[i % std::size(kColors)]);
  write_legend(out, chart, right + 16, top);
  out << "</svg>\n";
  return out.str();
}

std::string render_svg_intervals(const IntervalChart& chart) {
  constexpr int kRowHeight = 22;
  Range x_range;
  x_range.add(0);  // zero, the baseline, is always in view
  for (const auto& entry : chart.entries) {
    for (const double v : {entry.value, entry.low, entry.high, entry.reference}) {
      if (!std::isinf(v)) x_range.add(v);
    }
  }
  const Range x = padded(x_range);
  const int left = chart.label_width, top = kMarginTop;
  const int right = chart.width - kMarginRight;
  constexpr int kMinimumPlotHeight = 90;  // a chart of one or two rows still reads as a chart
  const int bottom = top + std::max(kMinimumPlotHeight, kRowHeight * static_cast<int>(chart.entries.size()) + 8);
  const int height = bottom + kMarginBottom;
  const Frame frame(x, Range{0, 1}, left, top, right, bottom);

  std::ostringstream out;
  out << fmt::format(R"(<svg class="chart intervals" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" )"
                     R"(viewBox="0 0 {} {}" role="img" font-family="sans-serif" font-size="11">)",
                     chart.width, height, chart.width, height)
      << '\n'
      << "<title>" << xml_escape(chart.title) << "</title>\n"
      << fmt::format(R"(<text class="chart-title" x="8" y="18" font-size="13" font-weight="bold">{}</text>)",
                     xml_escape(chart.title))
      << '\n'
      << fmt::format(R"(<rect class="plot" x="{}" y="{}" width="{}" height="{}" fill="#ffffff" stroke="#999999"/>)",
                     left, top, right - left, bottom - top)
      << '\n';
  const auto ticks = nice_ticks(x.low, x.high, 6);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  for (const double tick : ticks) {
    const double px = frame.px(tick);
    out << fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="{}"/>)", px, top, px, bottom,
                       tick == 0 ? "#555555" : "#e6e6e6")
        << fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", px, bottom + 16,
                       tick_label(tick, step))
        << '\n';
  }
  out << fmt::format(R"(<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text>)", (left + right) / 2,
                     bottom + 34, xml_escape(chart.x_label))
      << '\n';
  for (size_t i = 0; i < chart.entries.size(); ++i) {
    const auto& entry = chart.entries[i];
    const double y = top + 4 + kRowHeight * (static_cast<double>(i) + 0.5);
    out << fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end" dominant-baseline="middle">{}</text>)", left - 6, y,
                       xml_escape(entry.label));
    if (!std::isnan(entry.low) && !std::isnan(entry.high)) {
      out << fmt::format(R"(<line class="interval" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"/>)",
                         frame.px(entry.low), y, frame.px(entry.high), y, kColors[0]);
    }
    if (!std::isnan(entry.value)) {
      out << fmt::format(R"(<circle class="point" cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"/>)", frame.px(entry.value), y,
                         kColors[0]);
    }
    if (!std::isnan(entry.reference)) {
      const double px = frame.px(entry.reference);
      out << fmt::format(R"(<path class="reference" d="M{:.1f},{:.1f} l5,5 l-5,5 l-5,-5 z" fill="none" stroke="{}" stroke-width="1.5"/>)",
                         px, y - 5, kColors[1]);
    }
    out << '\n';
  }
  const int legend_y = bottom + 34;
  out << fmt::format(R"(<circle cx="12" cy="{}" r="3.5" fill="{}"/><text x="20" y="{}" dominant-baseline="middle">ours, 95% CI</text>)",
                     legend_y, kColors[0], legend_y)
      << fmt::format(R"(<path d="M{},{} l5,5 l-5,5 l-5,-5 z" fill="none" stroke="{}" stroke-width="1.5"/><text x="{}" y="{}" dominant-baseline="middle">{}</text>)",
                     110, legend_y - 5, kColors[1], 120, legend_y, xml_escape(chart.reference_label))
      << "\n</svg>\n";
  return out.str();
}

}  // namespace isda::report
