#pragma once
// The renderers: one function per format, each a pure function of the aggregated reports, so the
// golden-file tests pin every byte. Layout per format: report/README.md.

#include "report/aggregate.h"

#include <string>
#include <vector>

namespace isda::report {

// A table as aligned plain text. `ansi`: the best value per column in ANSI bold (for a terminal);
// otherwise it is marked with a trailing '*'.
std::string render_table_terminal(const TableReport& table, bool ansi);
std::string render_table_markdown(const TableReport& table);
// A booktabs `table` environment, ready to paste (needs booktabs and amssymb).
std::string render_table_latex(const TableReport& table);
// One header, then one line per cell of every table.
std::string render_tables_csv(const std::vector<TableReport>& tables);

// A figure's numbers at a few epochs (the curves themselves need HTML).
std::string render_figure_terminal(const FigureReport& figure);
std::string render_figure_markdown(const FigureReport& figure);
// One header, then one line per series and epoch of every figure.
std::string render_figures_csv(const std::vector<FigureReport>& figures);

struct HtmlTableSection {
  TableReport table;
  std::vector<FigureReport> curves;  // Figure 2-style, from table_curves()
  std::vector<RunCurves> runs;       // point into a SweepData that must outlive the rendering
  std::vector<GeneratorSamples> generators;  // the sweep's generator runs, whose sample grids are linked
};
struct HtmlFigureSection {
  FigureReport figure;
  std::vector<RunCurves> runs;
};
struct HtmlReport {
  std::string store_path;
  std::vector<HtmlTableSection> tables;
  std::vector<HtmlFigureSection> figures;
};
// A self-contained page: inline CSS and SVG, no script, nothing fetched.
std::string render_html(const HtmlReport& report);

}  // namespace isda::report
