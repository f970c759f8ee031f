#include "head_bench.h"

#include "isda_bench.h"
#include "common/process.h"
#include "isda/isda_loss.h"
#include "naive_isda.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>

namespace isda::bench {
namespace {

struct HeadOptions {
  int64_t classes = 100;
  int64_t dim = 640;
  int64_t batch = 128;
  int64_t steps = 20;
  std::string device = "auto";
  std::string method;  // memory probe only
};

std::vector<Option> head_options() {
  const HeadOptions defaults;
  return {
      value_option("--classes", "C", "classes").integer(1).default_to(std::to_string(defaults.classes)),
      value_option("--dim", "A", "feature dimension").integer(1).default_to(std::to_string(defaults.dim)),
      value_option("--batch", "N", "samples per step").integer(1).default_to(std::to_string(defaults.batch)),
      value_option("--steps", "S", "timed steps of each method").integer(1).default_to(std::to_string(defaults.steps)),
      device_option(defaults.device),
  };
}

HeadOptions head_options_from(const Arguments& args) {
  HeadOptions o;
  o.classes = args.integer("--classes");
  o.dim = args.integer("--dim");
  o.batch = args.integer("--batch");
  o.steps = args.integer("--steps");
  o.device = args.text("--device");
  return o;
}

torch::Device device_of(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  return torch::Device(name);
}

// The inputs of one head step: features from a stand-in backbone, the final layer and labels.
struct Inputs {
  torch::Tensor features;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor labels;
};

Inputs make_inputs(const HeadOptions& o, torch::Device device) {
  torch::manual_seed(0);
  const auto f = torch::TensorOptions().device(device);
  return {torch::randn({o.batch, o.dim}, f).requires_grad_(), (0.01 * torch::randn({o.classes, o.dim}, f)).requires_grad_(),
          torch::zeros({o.classes}, f).requires_grad_(), torch::randint(0, o.classes, {o.batch}, f.dtype(torch::kInt64))};
}

// One method's step: update (where it has one) + loss + backward.
class Step {
 public:
  Step(const std::string& method, const HeadOptions& o, torch::Device device) : method_(method) {
    if (method == "isda") estimator_.emplace(CovarianceKind::kFull, o.classes, o.dim, device);
    if (method == "authors") naive_.emplace(o.classes, o.dim, device);
  }
  void run(Inputs& in) {
    torch::Tensor loss;
    if (estimator_) {
      loss = isda_loss(*estimator_, in.features, in.weight, in.bias, in.labels, 0.5).loss;
    } else if (naive_) {
      loss = naive_->loss(in.features, in.weight, in.bias, in.labels, 0.5);
    } else {
      loss = torch::nn::functional::cross_entropy(torch::nn::functional::linear(in.features, in.weight, in.bias), in.labels);
    }
    loss.backward();
    for (auto* t : {&in.features, &in.weight, &in.bias}) t->mutable_grad() = torch::Tensor();
  }
  const std::string& method() const { return method_; }

 private:
  std::string method_;
  std::optional<CovarianceEstimator> estimator_;
  std::optional<NaiveIsdaHead> naive_;
};

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

int64_t proc_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  }
  return 0;
}

// Runs this binary's memory probe for `method` and returns its report, or the reason it failed.
std::string probe_memory(const HeadOptions& o, const std::string& method) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return "n/a";
  common::ChildSpec child;
  child.program = "/proc/self/exe";
  child.args = {"head-memory", "--classes", std::to_string(o.classes), "--dim", std::to_string(o.dim),
                "--batch", std::to_string(o.batch), "--device", o.device, "--method", method};
  child.stdout_fd = pipe_fds[1];
  pid_t pid = -1;
  try {
    pid = common::spawn(child);
  } catch (const std::exception&) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return "n/a";
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[256];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  if (common::wait_exit(pid) != 0) return "failed (out of memory?)";
  return text.substr(0, text.find('\n'));
}

}  // namespace

Command head_bench_command_line() {
  return benchmark_command("head", run_head_bench,
                           "one ISDA head step (full covariance: estimator update, loss, backward) beside cross-entropy "
                           "and the authors' formulation, median of interleaved steps; peak memory of each in a child "
                           "process.",
                           head_options());
}

Command head_memory_probe_command_line() {
  auto options = head_options();
  options.push_back(value_option("--method", "NAME", "the method measured").one_of({"ce", "isda", "authors"}));
  auto c = benchmark_command("head-memory", run_head_memory_probe,
                             "the child process of isda-bench head that measures one method's peak memory.", options);
  c.hidden = true;
  return c;
}

int run_head_memory_probe(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  auto o = head_options_from(args);
  o.method = args.text("--method");
  const auto device = device_of(o.device);
  if (device.is_cuda()) {
    out << "n/a on CUDA\n";
    return 0;
  }
  auto inputs = make_inputs(o, device);
  const int64_t before = proc_status_kib("VmRSS:");
  Step step(o.method, o, device);
  step.run(inputs);
  step.run(inputs);
  const int64_t peak = proc_status_kib("VmHWM:");
  out << fmt::format("{:.1f} MiB", static_cast<double>(peak - before) / 1024.0) << '\n';
  return 0;
}

int run_head_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  const auto o = head_options_from(args);
  const auto device = device_of(o.device);
  out << fmt::format("ISDA head, full covariance: C={} A={} N={} on {} ({} threads), median of {} interleaved steps\n",
                     o.classes, o.dim, o.batch, device.str(), torch::get_num_threads(), o.steps);
  auto inputs = make_inputs(o, device);
  std::vector<Step> steps;
  for (const char* method : {"ce", "isda", "authors"}) steps.emplace_back(method, o, device);
  std::map<std::string, std::vector<double>> times;
  for (int64_t r = -2; r < o.steps; ++r) {  // two warm-up rounds
    for (auto& step : steps) {
      synchronize(device);
      const auto start = std::chrono::steady_clock::now();
      step.run(inputs);
      synchronize(device);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (r >= 0) times[step.method()].push_back(ms);
    }
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double ce = median(times["ce"]);
  out << fmt::format("{:<28} {:>12} {:>10} {:>16}\n", "method", "ms/step", "x CE", "peak memory");
  const std::map<std::string, std::string> labels = {
      {"ce", "cross-entropy"}, {"isda", "ISDA (this suite)"}, {"authors", "ISDA (authors' formulation)"}};
  for (const char* method : {"ce", "isda", "authors"}) {
    const double ms = median(times[method]);
    out << fmt::format("{:<28} {:>12.3f} {:>10.2f} {:>16}\n", labels.at(method), ms, ms / ce, probe_memory(o, method));
  }
  return 0;
}

}  // namespace isda::bench
