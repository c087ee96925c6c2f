// forgebench shim: the at::globalContext() numeric switches and build information that tch does not expose.
// Every function is extern "C" and never throws across the boundary.
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <ATen/Parallel.h>
#include <torch/headeronly/version.h>
#include <cstring>
#include <string>

namespace {
// Copies s into buf (NUL-terminated, truncated to cap) and returns the full length so callers can retry larger.
size_t copy_out(const std::string& s, char* buf, size_t cap) {
  if (buf != nullptr && cap > 0) {
    size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  }
  return s.size();
}
}  // namespace

extern "C" {

int fb_set_flag(int which, int value) {
  try {
    auto& ctx = at::globalContext();
    bool v = value != 0;
    switch (which) {
      case 0: ctx.setBenchmarkCuDNN(v); break;
      case 1: ctx.setDeterministicCuDNN(v); break;
      case 2: ctx.setDeterministicAlgorithms(v, false); break;
      case 3: ctx.setAllowTF32CuBLAS(v); break;
      case 4: ctx.setAllowTF32CuDNN(v); break;
      case 5: ctx.setUserEnabledMkldnn(v); break;
      default: return -1;
    }
    return 0;
  } catch (...) {
    return -2;
  }
}

int fb_get_flag(int which) {
  try {
    auto& ctx = at::globalContext();
    switch (which) {
      case 0: return ctx.benchmarkCuDNN() ? 1 : 0;
      case 1: return ctx.deterministicCuDNN() ? 1 : 0;
      case 2: return ctx.deterministicAlgorithms() ? 1 : 0;
      case 3: return ctx.allowTF32CuBLAS() ? 1 : 0;
      case 4: return ctx.allowTF32CuDNN() ? 1 : 0;
      case 5: return ctx.userEnabledMkldnn() ? 1 : 0;
      default: return -1;
    }
  } catch (...) {
    return -2;
  }
}

size_t fb_show_config(char* buf, size_t cap) {
  try {
    return copy_out(at::show_config(), buf, cap);
  } catch (...) {
    return copy_out("<at::show_config failed>", buf, cap);
  }
}

size_t fb_parallel_info(char* buf, size_t cap) {
  try {
    return copy_out(at::get_parallel_info(), buf, cap);
  } catch (...) {
    return copy_out("<at::get_parallel_info failed>", buf, cap);
  }
}

size_t fb_torch_version(char* buf, size_t cap) { return copy_out(TORCH_VERSION, buf, cap); }

// The CPU capability ATen's kernels dispatch to ("DEFAULT", "AVX2", "AVX512", ...), after ATEN_CPU_CAPABILITY.
size_t fb_cpu_capability(char* buf, size_t cap) {
  try {
    return copy_out(at::get_cpu_capability(), buf, cap);
  } catch (...) {
    return copy_out("<at::get_cpu_capability failed>", buf, cap);
  }
}

}  // extern "C"
