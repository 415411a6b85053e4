// Issue 14's per-op loop with nothing around ATen: 20,000 small ops (c = c.add(b).mul(0.5) on
// [16] floats, 10,000 rounds) through ATen's unboxed C++ API, no interpreter, no handle table,
// no binding. Whatever a binding does, it cannot be faster than this.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::atoi(argv[1]) : 30;
  at::set_num_threads(1);
  at::manual_seed(0);
  at::Tensor b = at::rand({16});
  std::vector<double> ms;
  double checksum = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    at::Tensor c = at::rand({16});
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i) c = c.add(b).mul(0.5);
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    checksum += c.sum().item<double>();
  }
  std::printf("{\"side\":\"cpp\",\"ms\":[");
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.4f", i ? "," : "", ms[i]);
  std::printf("],\"checksum\":%.6f}\n", checksum);
}
