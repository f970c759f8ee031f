// Terminal and Markdown renderers.
#include "report/format.h"
#include "report/render.h"

#include <fmt/format.h>

#include <array>
#include <sstream>

namespace isda::report {
namespace {

constexpr size_t kParts = 4;  // each paper column shows: ours, n, paper, difference
using PartHeaders = std::array<const char*, kParts>;
constexpr PartHeaders kPartHeaders = {"ours", "n", "paper", "Δ"};
// The comparison grid under a table with a baseline: each compared cell against its baseline.
constexpr PartHeaders kComparisonHeaders = {"Δ [95% CI]", "p", "paper Δ", "seeds"};
constexpr char kColumnSeparator[] = " | ";
constexpr char kPartSeparator[] = "  ";

struct TextCell {
  std::string text;
  bool bold = false;
};
using CellParts = std::array<TextCell, kParts>;

// Characters on screen: UTF-8 continuation bytes take no column (all our symbols are one column wide).
size_t display_width(const std::string& text) {
  size_t width = 0;
  for (const unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string padded(const std::string& text, size_t width) {
  const auto used = display_width(text);
  return used >= width ? text : text + std::string(width - used, ' ');
}

std::string trim_right(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string bold_if(const TextCell& cell, size_t width, bool ansi) {
  const auto text = padded(cell.text, width);
  if (!cell.bold || !ansi) return text;
  return "\x1b[1m" + cell.text + "\x1b[0m" + text.substr(cell.text.size());
}

CellParts parts_of(const Cell& cell, bool ansi) {
  CellParts parts;
  parts[0] = {ours_text(cell, kPlainNotation) + (cell.best && !ansi ? "*" : ""), cell.best};
  parts[1] = {seeds_text(cell)};
  parts[2] = {format_paper(cell.paper, kPlainNotation)};
  parts[3] = {difference_text(cell, kPlainNotation)};
  return parts;
}

// Consecutive columns under one spanning header: [first, last].
struct Span {
  size_t first = 0, last = 0;
  std::string label;
};
std::vector<Span> column_spans(const TableLayout& layout) {
  std::vector<Span> spans;
  for (size_t c = 0; c < layout.columns.size(); ++c) {
    const auto& group = layout.columns[c].group;
    if (!spans.empty() && !group.empty() && spans.back().label == group) {
      spans.back().last = c;
    } else {
      spans.push_back({c, c, group});
    }
  }
  return spans;
}

bool has_column_groups(const TableLayout& layout) {
  for (const auto& column : layout.columns) {
    if (!column.group.empty()) return true;
  }
  return false;
}

bool has_row_groups(const TableLayout& layout) {
  for (const auto& row : layout.rows) {
    if (!row.group.empty()) return true;
  }
  return false;
}

// Column widths of the terminal table: each paper column's parts, widened to fit its headers.
class TerminalGrid {
 public:
  TerminalGrid(const TableLayout& layout, const std::vector<std::vector<CellParts>>& rows, const PartHeaders& headers) {
    widths_.assign(layout.columns.size(), {});
    for (size_t c = 0; c < layout.columns.size(); ++c) {
      for (size_t p = 0; p < kParts; ++p) widths_[c][p] = display_width(headers[p]);
    }
    for (const auto& row : rows) {
      for (size_t c = 0; c < row.size(); ++c) {
        for (size_t p = 0; p < kParts; ++p) widths_[c][p] = std::max(widths_[c][p], display_width(row[c][p].text));
      }
    }
    for (size_t c = 0; c < layout.columns.size(); ++c) widen(c, c, layout.columns[c].label);
    for (const auto& span : column_spans(layout)) widen(span.first, span.last, span.label);
  }

  size_t part(size_t column, size_t index) const { return widths_[column][index]; }
  size_t block(size_t column) const {
    size_t width = (kParts - 1) * std::string(kPartSeparator).size();
    for (const auto w : widths_[column]) width += w;
    return width;
  }
  size_t span(size_t first, size_t last) const {
    size_t width = (last - first) * std::string(kColumnSeparator).size();
    for (size_t c = first; c <= last; ++c) width += block(c);
    return width;
  }

 private:
  // Widens the last part of `last` until columns first..last are as wide as `label`.
  void widen(size_t first, size_t last, const std::string& label) {
    const auto needed = display_width(label);
    const auto have = span(first, last);
    if (needed > have) widths_[last][kParts - 1] += needed - have;
  }

  std::vector<std::array<size_t, kParts>> widths_;
};

std::string terminal_header(const TableLayout& layout, const TerminalGrid& grid, size_t label_width,
                            const PartHeaders& headers) {
  std::ostringstream out;
  if (has_column_groups(layout)) {
    std::string line = std::string(label_width, ' ');
    for (const auto& span : column_spans(layout)) line += kColumnSeparator + padded(span.label, grid.span(span.first, span.last));
    out << trim_right(line) << '\n';
  }
  std::string labels = std::string(label_width, ' ');
  std::string parts = labels;
  std::string rule = std::string(label_width, '-');
  for (size_t c = 0; c < layout.columns.size(); ++c) {
    labels += kColumnSeparator + padded(layout.columns[c].label, grid.block(c));
    parts += kColumnSeparator;
    for (size_t p = 0; p < kParts; ++p) {
      parts += padded(headers[p], grid.part(c, p)) + (p + 1 < kParts ? kPartSeparator : "");
    }
    rule += "-+-" + std::string(grid.block(c), '-');
  }
  out << trim_right(labels) << '\n' << trim_right(parts) << '\n' << rule << '\n';
  return out.str();
}

void write_legend(std::ostream& out, const TableReport& table, const std::string& best_marking,
                  const std::string& bullet) {
  for (const auto& line : legend_lines(table, kPlainNotation, best_marking)) out << bullet << line << '\n';
  if (!table.layout.note.empty()) out << bullet << "note: " << table.layout.note << '\n';
  for (const auto& line : epoch_range_lines(table, kPlainNotation)) out << bullet << "epochs: " << line << '\n';
  const auto consistency = consistency_lines(table, kPlainNotation);
  if (!consistency.empty()) out << bullet << consistency_heading(kPlainNotation) << ":\n";
  for (const auto& line : consistency) out << bullet << "  " << line << '\n';
  for (const auto& line : problem_lines(table, kPlainNotation)) out << bullet << "problem: " << line << '\n';
}

std::string markdown_escape(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '|' || c == '*' || c == '_' || c == '`' || c == '\\' || c == '<') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

const Notation kMarkdownNotation = {"±", "✓", "Δ", "≤", "σ", markdown_escape};

std::string markdown_row(const std::vector<std::string>& cells) {
  return fmt::format("| {} |\n", fmt::join(cells, " | "));
}

}  // namespace

namespace {

// The header and rows of a grid of cells (the table, or its comparison grid).
std::string terminal_grid(const TableLayout& layout, const std::vector<std::vector<CellParts>>& rows,
                          const PartHeaders& headers, bool ansi) {
  const bool grouped_rows = has_row_groups(layout);
  const std::string indent = grouped_rows ? "  " : "";
  size_t label_width = 0;
  for (const auto& row : layout.rows) {
    label_width = std::max({label_width, display_width(indent + row.label), display_width(row.group)});
  }
  const TerminalGrid grid(layout, rows, headers);
  std::ostringstream out;
  out << terminal_header(layout, grid, label_width, headers);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& group = layout.rows[r].group;
    if (grouped_rows && (r == 0 || layout.rows[r - 1].group != group)) out << group << '\n';
    std::string line = padded(indent + layout.rows[r].label, label_width);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      line += kColumnSeparator;
      for (size_t p = 0; p < kParts; ++p) {
        line += bold_if(rows[r][c][p], grid.part(c, p), ansi) + (p + 1 < kParts ? kPartSeparator : "");
      }
    }
    out << trim_right(line) << '\n';
  }
  return out.str();
}

// The comparison grid's cells, as text parts.
std::vector<std::vector<CellParts>> comparison_parts(const TableReport& table, const ComparisonGrid& grid,
                                                     const Notation& notation) {
  std::vector<std::vector<CellParts>> rows;
  for (const auto r : grid.rows) {
    std::vector<CellParts> row;
    for (const auto c : grid.columns) {
      const auto& comparison = table.cells[r][c].comparison;
      CellParts parts;
      if (comparison) {
        parts[0] = {comparison_interval_text(*comparison)};
        parts[1] = {p_value_text(comparison->ours)};
        parts[2] = {paper_difference_text(*comparison, notation)};
        parts[3] = {seeds_advice_text(*comparison)};
      }
      row.push_back(parts);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

std::string render_table_terminal(const TableReport& table, bool ansi) {
  const auto& layout = table.layout;
  std::vector<std::vector<CellParts>> rows;
  for (size_t r = 0; r < layout.rows.size(); ++r) {
    std::vector<CellParts> row;
    for (const auto& cell : table.cells[r]) row.push_back(parts_of(cell, ansi));
    rows.push_back(std::move(row));
  }
  std::ostringstream out;
  out << layout.title << '\n' << sweep_line(table.sweep, table.counts, kPlainNotation) << "\n\n";
  out << terminal_grid(layout, rows, kPartHeaders, ansi) << '\n';
  write_legend(out, table, ansi ? "in bold" : "marked *", "");
  if (has_comparisons(table)) {
    const auto grid = comparison_grid(table);
    out << "\nAgainst the baseline (Welch)\n\n"
        << terminal_grid(grid.layout, comparison_parts(table, grid, kPlainNotation), kComparisonHeaders, false) << '\n';
    for (const auto& line : comparison_legend_lines(kPlainNotation)) out << line << '\n';
  }
  return out.str();
}

std::string render_table_markdown(const TableReport& table) {
  const auto& layout = table.layout;
  std::ostringstream out;
  out << "### " << markdown_escape(layout.title) << "\n\n"
      << sweep_line(table.sweep, table.counts, kMarkdownNotation) << "\n\n";
  std::vector<std::string> header = {""};
  std::vector<std::string> alignment = {":---"};
  for (const auto& column : layout.columns) {
    const auto name = column.group.empty() ? column.label : column.group + " " + column.label;
    header.push_back(markdown_escape(name) + " ours");
    header.insert(header.end(), {"n", "paper", "Δ"});
    alignment.insert(alignment.end(), {"---:", "---:", "---:", ":---"});
  }
  out << markdown_row(header) << markdown_row(alignment);
  const bool grouped_rows = has_row_groups(layout);
  for (size_t r = 0; r < layout.rows.size(); ++r) {
    const auto& group = layout.rows[r].group;
    if (grouped_rows && (r == 0 || layout.rows[r - 1].group != group)) {
      std::vector<std::string> group_row(header.size(), "");
      group_row[0] = group.empty() ? "" : "**" + markdown_escape(group) + "**";
      out << markdown_row(group_row);
    }
    std::vector<std::string> cells = {markdown_escape(layout.rows[r].label)};
    for (const auto& cell : table.cells[r]) {
      const auto ours = ours_text(cell, kMarkdownNotation);
      cells.push_back(cell.best ? "**" + ours + "**" : ours);
      cells.push_back(seeds_text(cell));
      cells.push_back(format_paper(cell.paper, kMarkdownNotation));
      cells.push_back(difference_text(cell, kMarkdownNotation));
    }
    out << markdown_row(cells);
  }
  out << '\n';
  for (const auto& line : legend_lines(table, kMarkdownNotation, "in bold")) out << "- " << line << '\n';
  if (!layout.note.empty()) out << "- note: " << markdown_escape(layout.note) << '\n';
  for (const auto& line : epoch_range_lines(table, kMarkdownNotation)) out << "- epochs: " << line << '\n';
  const auto consistency = consistency_lines(table, kMarkdownNotation);
  if (!consistency.empty()) out << "- " << consistency_heading(kMarkdownNotation) << ":\n";
  for (const auto& line : consistency) out << "  - " << line << '\n';
  for (const auto& line : problem_lines(table, kMarkdownNotation)) out << "- problem: " << line << '\n';
  if (has_comparisons(table)) {
    const auto grid = comparison_grid(table);
    out << "\nAgainst the baseline (Welch):\n\n";
    std::vector<std::string> head = {""};
    std::vector<std::string> align = {":---"};
    for (const auto& column : grid.layout.columns) {
      const auto name = column.group.empty() ? column.label : column.group + " " + column.label;
      head.push_back(markdown_escape(name) + " Δ [95% CI]");
      head.insert(head.end(), {"p", "paper Δ", "seeds"});
      align.insert(align.end(), {"---:", "---:", "---:", "---:"});
    }
    out << markdown_row(head) << markdown_row(align);
    const auto parts = comparison_parts(table, grid, kMarkdownNotation);
    for (size_t i = 0; i < grid.rows.size(); ++i) {
      const auto& row = grid.layout.rows[i];
      std::vector<std::string> cells = {markdown_escape(row.group.empty() ? row.label : row.group + " " + row.label)};
      for (const auto& cell : parts[i]) {
        for (const auto& part : cell) cells.push_back(part.text);
      }
      out << markdown_row(cells);
    }
    out << '\n';
    for (const auto& line : comparison_legend_lines(kMarkdownNotation)) out << "- " << line << '\n';
  }
  return out.str();
}

std::string render_figure_terminal(const FigureReport& figure) {
  const auto epochs = summary_epochs(figure, 10);
  std::vector<std::vector<std::string>> grid;  // [epoch][curve]
  std::vector<size_t> widths;
  for (const auto& curve : figure.curves) widths.push_back(display_width(curve.label));
  size_t epoch_width = display_width("epoch");
  for (const auto epoch : epochs) {
    std::vector<std::string> line;
    for (size_t i = 0; i < figure.curves.size(); ++i) {
      const auto* point = point_at(figure.curves[i], epoch);
      line.push_back(point == nullptr ? ""
                                      : fmt::format("{} ({})", format_mean_std(point->value.mean, point->value.std,
                                                                              kPlainNotation),
                                                    point->value.n));
      widths[i] = std::max(widths[i], display_width(line.back()));
    }
    epoch_width = std::max(epoch_width, std::to_string(epoch).size());
    grid.push_back(std::move(line));
  }
  std::ostringstream out;
  out << figure.title << '\n' << sweep_line(figure.sweep, figure.counts, kPlainNotation) << '\n';
  out << fmt::format("(the curves need --format html; here the numbers at {} epoch{})\n\n", epochs.size(),
                     epochs.size() == 1 ? "" : "s");
  std::string header = padded("epoch", epoch_width);
  std::string rule = std::string(epoch_width, '-');
  for (size_t i = 0; i < figure.curves.size(); ++i) {
    header += kColumnSeparator + padded(figure.curves[i].label, widths[i]);
    rule += "-+-" + std::string(widths[i], '-');
  }
  out << trim_right(header) << '\n' << rule << '\n';
  for (size_t e = 0; e < epochs.size(); ++e) {
    std::string line = fmt::format("{:>{}}", epochs[e], epoch_width);
    for (size_t i = 0; i < grid[e].size(); ++i) line += kColumnSeparator + padded(grid[e][i], widths[i]);
    out << trim_right(line) << '\n';
  }
  out << '\n';
  for (const auto& line : figure_legend_lines(figure, kPlainNotation)) out << line << '\n';
  if (!figure.note.empty()) out << "note: " << figure.note << '\n';
  for (const auto& curve : figure.curves) {
    const auto status = curve_status(curve, kPlainNotation);
    if (!status.empty()) out << curve.label << ": " << status << '\n';
  }
  return out.str();
}

std::string render_figure_markdown(const FigureReport& figure) {
  const auto epochs = summary_epochs(figure, 10);
  std::ostringstream out;
  out << "### " << markdown_escape(figure.title) << "\n\n"
      << sweep_line(figure.sweep, figure.counts, kMarkdownNotation) << "\n\n";
  std::vector<std::string> header = {"epoch"};
  std::vector<std::string> alignment = {"---:"};
  for (const auto& curve : figure.curves) {
    header.push_back(markdown_escape(curve.label));
    alignment.push_back("---:");
  }
  out << markdown_row(header) << markdown_row(alignment);
  for (const auto epoch : epochs) {
    std::vector<std::string> cells = {std::to_string(epoch)};
    for (const auto& curve : figure.curves) {
      const auto* point = point_at(curve, epoch);
      cells.push_back(point == nullptr ? ""
                                       : fmt::format("{} ({})", format_mean_std(point->value.mean, point->value.std,
                                                                               kMarkdownNotation),
                                                     point->value.n));
    }
    out << markdown_row(cells);
  }
  out << '\n';
  for (const auto& line : figure_legend_lines(figure, kMarkdownNotation)) out << "- " << line << '\n';
  if (!figure.note.empty()) out << "- note: " << markdown_escape(figure.note) << '\n';
  for (const auto& curve : figure.curves) {
    const auto status = curve_status(curve, kMarkdownNotation);
    if (!status.empty()) out << "- " << markdown_escape(curve.label) << ": " << status << '\n';
  }
  return out.str();
}

}  // namespace isda::report
