// The handle table: JavaScript holds small integers, C++ holds the at::Tensor.
// Integers cross N-API faster than wrapped objects, and the live count is exact,
// which is what the leak tests read.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>
#include <vector>

namespace tgt {

class HandleTable {
 public:
  int32_t add(at::Tensor tensor);
  const at::Tensor& get(Napi::Env env, int64_t id) const;
  void release(int64_t id);
  bool isLive(int64_t id) const;
  size_t liveCount() const { return live_; }
  // Bytes of distinct storages held by live handles (views share storage).
  size_t liveBytes() const;

 private:
  std::vector<at::Tensor> tensors_;
  std::vector<uint8_t> used_;
  std::vector<int32_t> free_;
  size_t live_ = 0;
};

HandleTable& handles();

// Reads a tensor handle argument; throws a JS TypeError naming `what`.
const at::Tensor& tensorArg(const Napi::Value& value, const char* what);

}  // namespace tgt
