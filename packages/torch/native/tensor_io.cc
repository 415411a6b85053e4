// Tensor handles: creation from bytes, bytes out, metadata, disposal.
#include <ATen/ATen.h>
#include <napi.h>

#include <cstring>
#include <sstream>

#include "errors.h"
#include "handles.h"

namespace tgt {
namespace {

std::vector<int64_t> shapeArg(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) shape[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}

// fromBuffer(view: ArrayBufferView, dtype: int, shape: int[]) -> id. Copies: a JS buffer
// may be moved or collected while libtorch (or an autograd thread) still reads it.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  return guarded(info, "fromBuffer", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() && !info[0].IsBuffer() && !info[0].IsDataView()) {
      throw Napi::TypeError::New(env, "fromBuffer: expected a typed array or Buffer");
    }
    const uint8_t* data;
    size_t length;
    if (info[0].IsDataView()) {
      auto dv = info[0].As<Napi::DataView>();
      data = static_cast<const uint8_t*>(dv.Data());
      length = dv.ByteLength();
    } else {
      auto ta = info[0].As<Napi::TypedArray>();
      data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      length = ta.ByteLength();
    }
    auto dtype = static_cast<at::ScalarType>(info[1].As<Napi::Number>().Int32Value());
    std::vector<int64_t> shape = shapeArg(info[2]);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t expected = t.numel() * t.element_size();
    if (expected != length) {
      std::ostringstream os;
      os << "fromBuffer: shape " << at::IntArrayRef(shape) << " of " << dtype << " needs " << expected
         << " bytes, the buffer has " << length;
      throw Napi::RangeError::New(env, os.str());
    }
    if (length) std::memcpy(t.data_ptr(), data, length);
    return Napi::Number::New(env, handles().add(std::move(t)));
  });
}

// toBuffer(id) -> Buffer holding a contiguous CPU copy of the elements.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  return guarded(info, "toBuffer", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor t = tensorArg(info[0], "toBuffer").detach().to(at::kCPU).contiguous();
    size_t bytes = t.numel() * t.element_size();
    auto buf = Napi::Buffer<uint8_t>::New(env, bytes);
    if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    return buf;
  });
}

// viewBuffer(id) -> ArrayBuffer aliasing the tensor's memory (zero-copy). Safe only for
// contiguous CPU tensors; the ArrayBuffer holds its own reference to the storage, so it
// stays valid after the handle is disposed. Writes through it change the tensor.
Napi::Value ViewBuffer(const Napi::CallbackInfo& info) {
  return guarded(info, "viewBuffer", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const at::Tensor& src = tensorArg(info[0], "viewBuffer");
    if (!src.device().is_cpu() || !src.is_contiguous()) return env.Null();
    auto* owner = new at::Tensor(src.detach());
    size_t bytes = owner->numel() * owner->element_size();
    return Napi::ArrayBuffer::New(env, owner->data_ptr(), bytes,
                                  [](Napi::Env, void*, at::Tensor* held) { delete held; }, owner);
  });
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  handles().release(info[0].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value LiveCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(handles().liveCount()));
}

Napi::Value LiveBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(handles().liveBytes()));
}

// meta(id) -> [shape, dtype, device, requiresGrad]: one crossing for what Tensor caches.
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorArg(info[0], "meta");
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(t.size(i)));
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, shape);
  out.Set(1u, static_cast<int>(t.scalar_type()));
  out.Set(2u, t.device().str());
  out.Set(3u, t.requires_grad());
  return out;
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorArg(info[0], "shape");
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(t.size(i)));
  return shape;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return guarded(info, "item", [&]() -> Napi::Value {
    const at::Tensor& t = tensorArg(info[0], "item");
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}

Napi::Value ToString(const Napi::CallbackInfo& info) {
  return guarded(info, "toString", [&]() -> Napi::Value {
    std::ostringstream os;
    os << tensorArg(info[0], "toString");
    return Napi::String::New(info.Env(), os.str());
  });
}

}  // namespace

void registerTensorIo(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer, "fromBuffer"));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer, "toBuffer"));
  exports.Set("viewBuffer", Napi::Function::New(env, ViewBuffer, "viewBuffer"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("liveCount", Napi::Function::New(env, LiveCount, "liveCount"));
  exports.Set("liveBytes", Napi::Function::New(env, LiveBytes, "liveBytes"));
  exports.Set("meta", Napi::Function::New(env, Meta, "meta"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  exports.Set("item", Napi::Function::New(env, Item, "item"));
  exports.Set("toString", Napi::Function::New(env, ToString, "toString"));
}

}  // namespace tgt
