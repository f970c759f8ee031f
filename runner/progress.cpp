#include "runner/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ostream>

namespace isda::runner {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::vector<std::string> render_progress(const ProgressSnapshot& p, size_t width) {
  std::vector<std::string> lines;
  const auto& c = p.counts;
  std::string head = fmt::format("{}: {}/{} done, {} running, {} failed, {} pending", p.sweep, c.done,
                                 c.total() + p.waiting, c.running, c.failed, c.pending + c.interrupted);
  if (p.waiting > 0) head += fmt::format(", {} waiting for runs they depend on", p.waiting);
  head += fmt::format(" | {} elapsed", format_duration(p.elapsed));
  head += p.eta >= 0 ? fmt::format(", ETA {}", format_duration(p.eta)) : std::string(", ETA ?");
  lines.push_back(head);
  for (const auto& a : p.active) {
    std::string line = fmt::format("  {:<5} {} epoch {:>3}/{:<3}", a.slot, a.run_id, a.epoch, a.epochs);
    if (a.seconds_per_epoch > 0) line += fmt::format(" {:>6}/epoch", format_duration(a.seconds_per_epoch));
    line += "  " + a.what;
    lines.push_back(line);
  }
  for (const auto& g : p.gpu_use) lines.push_back("  " + g);
  for (auto& line : lines) {
    if (line.size() > width) line = line.substr(0, width > 3 ? width - 3 : width) + (width > 3 ? "..." : "");
  }
  return lines;
}

double estimate_eta(const ProgressSnapshot& p, const std::vector<int64_t>& pending_epochs,
                    int64_t epochs_per_waiting_run, double seconds_per_epoch, size_t slots) {
  if (!(seconds_per_epoch > 0) || slots == 0) return -1;
  double epochs_left = static_cast<double>(p.waiting * epochs_per_waiting_run);
  for (const auto& a : p.active) epochs_left += static_cast<double>(std::max<int64_t>(0, a.epochs - a.epoch));
  for (const auto e : pending_epochs) epochs_left += static_cast<double>(e);
  // Runs are whole: with fewer runs left than slots, the longest one bounds the time.
  double longest = 0;
  for (const auto& a : p.active) longest = std::max(longest, static_cast<double>(a.epochs - a.epoch));
  for (const auto e : pending_epochs) longest = std::max(longest, static_cast<double>(e));
  return seconds_per_epoch * std::max(longest, epochs_left / static_cast<double>(slots));
}

ProgressDisplay::ProgressDisplay(std::ostream& out, bool live, size_t width) : out_(out), live_(live), width_(width) {}

ProgressDisplay::~ProgressDisplay() { finish(); }

void ProgressDisplay::event(const std::string& line) {
  clear_block();
  out_ << line << '\n';
  draw_block();
}

void ProgressDisplay::update(const ProgressSnapshot& snapshot, bool force) {
  if (!live_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_lines_ > 0 && now - last_draw_ < std::chrono::seconds(1)) return;
  clear_block();
  block_ = render_progress(snapshot, width_);
  draw_block();
  last_draw_ = now;
}

void ProgressDisplay::finish() {
  clear_block();
  block_.clear();
}

void ProgressDisplay::clear_block() {
  if (!live_ || drawn_lines_ == 0) return;
  // Up to the block's first line, then erase to the end of the screen.
  out_ << fmt::format("\x1b[{}F\x1b[J", drawn_lines_);
  drawn_lines_ = 0;
}

void ProgressDisplay::draw_block() {
  if (!live_) return;
  for (const auto& line : block_) out_ << line << '\n';
  drawn_lines_ = block_.size();
  out_.flush();
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 100;
}

}  // namespace isda::runner
