#include "support/run_environment.h"

#include "common/system.h"

#include "source_version.h"  // generated: ISDA_GIT_COMMIT, ISDA_GIT_DIRTY

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/Exception.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <torch/version.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace isda::support {
namespace {

// The device's name from the CUDA driver (libcuda, loaded at run time: CPU builds and machines
// without a GPU have none). The driver API numbers devices as the runtime does, after
// CUDA_VISIBLE_DEVICES.
std::string gpu_name(int cuda_index) {
  void* library = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return "";
  using Init = int (*)(unsigned);
  using DeviceGet = int (*)(int*, int);
  using DeviceGetName = int (*)(char*, int, int);
  const auto init = reinterpret_cast<Init>(::dlsym(library, "cuInit"));
  const auto device_get = reinterpret_cast<DeviceGet>(::dlsym(library, "cuDeviceGet"));
  const auto device_get_name = reinterpret_cast<DeviceGetName>(::dlsym(library, "cuDeviceGetName"));
  std::string name;
  int device = 0;
  char text[256] = {};
  if (init && device_get && device_get_name && init(0) == 0 && device_get(&device, cuda_index) == 0 &&
      device_get_name(text, sizeof text - 1, device) == 0) {
    name = text;
  }
  ::dlclose(library);
  return name;
}

// A LibTorch version query that CPU builds answer with an error.
template <typename Query>
long version_or_zero(Query query) {
  try {
    return query();
  } catch (const c10::Error&) {
    return 0;
  }
}

}  // namespace

std::string cuda_version_text(long version) {
  if (version <= 0) return "";
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

std::string cudnn_version_text(long version) {
  if (version <= 0) return "";
  if (version >= 10000) return fmt::format("{}.{}.{}", version / 10000, version / 100 % 100, version % 100);
  return fmt::format("{}.{}.{}", version / 1000, version / 100 % 10, version % 100);
}

std::string nvidia_driver_version(const std::string& proc_version_text) {
  std::istringstream first_line(proc_version_text.substr(0, proc_version_text.find('\n')));
  for (std::string word; first_line >> word;) {
    const bool digits_and_dots = word.find_first_not_of("0123456789.") == std::string::npos;
    if (digits_and_dots && word.find('.') != std::string::npos && std::isdigit(static_cast<unsigned char>(word[0]))) {
      return word;
    }
  }
  return "";
}

RunEnvironment describe_environment(bool on_cuda, int cuda_index) {
  RunEnvironment environment;
  environment.host = common::host_name();
  environment.git_commit = ISDA_GIT_COMMIT;
  environment.git_dirty = ISDA_GIT_DIRTY != 0;
  environment.libtorch = TORCH_VERSION;
  if (!on_cuda) return environment;
  const auto& hooks = at::detail::getCUDAHooks();
  environment.cuda = cuda_version_text(version_or_zero([&] { return hooks.versionCUDART(); }));
  environment.cudnn = cudnn_version_text(version_or_zero([&] { return hooks.versionCuDNN(); }));
  environment.gpu_model = gpu_name(cuda_index);
  std::ifstream proc("/proc/driver/nvidia/version");
  std::stringstream text;
  text << proc.rdbuf();
  environment.driver = nvidia_driver_version(text.str());
  return environment;
}

}  // namespace isda::support
