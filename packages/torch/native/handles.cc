#include "handles.h"

#include <string>
#include <unordered_set>

namespace tgt {

HandleTable& handles() {
  static HandleTable table;
  return table;
}

int32_t HandleTable::add(at::Tensor tensor) {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    tensors_[id] = std::move(tensor);
    used_[id] = 1;
  } else {
    id = static_cast<int32_t>(tensors_.size());
    tensors_.push_back(std::move(tensor));
    used_.push_back(1);
  }
  ++live_;
  return id;
}

bool HandleTable::isLive(int64_t id) const {
  return id >= 0 && id < static_cast<int64_t>(used_.size()) && used_[id];
}

const at::Tensor& HandleTable::get(Napi::Env env, int64_t id) const {
  if (!isLive(id)) {
    throw Napi::Error::New(env, "tensor handle " + std::to_string(id) +
                                    " is not live (the tensor was disposed); keep it with keep() "
                                    "or return it from tidy() to use it later");
  }
  return tensors_[id];
}

void HandleTable::release(int64_t id) {
  if (!isLive(id)) return;
  tensors_[id] = at::Tensor();
  used_[id] = 0;
  free_.push_back(static_cast<int32_t>(id));
  --live_;
}

size_t HandleTable::liveBytes() const {
  std::unordered_set<const void*> seen;
  size_t bytes = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!used_[i] || !tensors_[i].defined() || !tensors_[i].has_storage()) continue;
    const auto& storage = tensors_[i].storage();
    if (seen.insert(storage.unsafeGetStorageImpl()).second) bytes += storage.nbytes();
  }
  return bytes;
}

const at::Tensor& tensorArg(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor handle");
  }
  return handles().get(value.Env(), value.As<Napi::Number>().Int64Value());
}

}  // namespace tgt
