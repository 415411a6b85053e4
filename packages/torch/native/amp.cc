// Automatic mixed precision: the autocast state of the calling thread, as torch.autocast
// sets it. Autocast is a dispatch key: once enabled, the dispatcher itself casts the inputs of
// matmul-like ops to the lower precision and keeps reductions and losses in float32, so every
// op we call (boxed or not) is covered. Only the thread that enables it is affected, which is
// the one our ops run on; autograd's backward needs no autocast.
#include <ATen/autocast_mode.h>
#include <napi.h>
#include <torch/version.h>

#include <string>

#include "errors.h"

namespace tgt {
namespace {

at::DeviceType deviceTypeOf(Napi::Env env, const std::string& name) {
  if (name == "cpu") return at::kCPU;
  if (name == "cuda") return at::kCUDA;
  throw Napi::RangeError::New(env, "autocast: device type must be cpu or cuda, got " + name);
}

// libtorch 2.4 made the state per device type; 1.x has one switch for CUDA and one for the CPU.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool isEnabled(at::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void setEnabled(at::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType dtypeOf(at::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void setDtype(at::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool isEnabled(at::DeviceType d) { return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled(); }
void setEnabled(at::DeviceType d, bool on) {
  if (d == at::kCPU) {
    at::autocast::set_cpu_enabled(on);
  } else {
    at::autocast::set_enabled(on);
  }
}
at::ScalarType dtypeOf(at::DeviceType d) { return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype(); }
void setDtype(at::DeviceType d, at::ScalarType t) {
  if (d == at::kCPU) {
    at::autocast::set_autocast_cpu_dtype(t);
  } else {
    at::autocast::set_autocast_gpu_dtype(t);
  }
}
#endif

// autocastEnter(deviceType, dtypeCode, enabled) -> [wasEnabled, previousDtypeCode]
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  return guarded(info, "autocast", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const at::DeviceType d = deviceTypeOf(env, info[0].As<Napi::String>().Utf8Value());
    const at::ScalarType dtype = static_cast<at::ScalarType>(info[1].As<Napi::Number>().Int32Value());
    const bool enabled = info[2].As<Napi::Boolean>().Value();
    Napi::Array previous = Napi::Array::New(env, 2);
    previous.Set(0u, Napi::Boolean::New(env, isEnabled(d)));
    previous.Set(1u, Napi::Number::New(env, static_cast<int>(dtypeOf(d))));
    setEnabled(d, enabled);
    setDtype(d, dtype);
    at::autocast::increment_nesting();
    return previous;
  });
}

// autocastExit(deviceType, wasEnabled, previousDtypeCode): restores the state; the cache of
// cast weights is dropped when the outermost region ends, as torch.autocast does.
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  return guarded(info, "autocast", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const at::DeviceType d = deviceTypeOf(env, info[0].As<Napi::String>().Utf8Value());
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    setEnabled(d, info[1].As<Napi::Boolean>().Value());
    setDtype(d, static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value()));
    return env.Undefined();
  });
}

Napi::Value AutocastIsEnabled(const Napi::CallbackInfo& info) {
  return guarded(info, "autocast", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), isEnabled(deviceTypeOf(info.Env(), info[0].As<Napi::String>().Utf8Value())));
  });
}

}  // namespace

void registerAmp(Napi::Env env, Napi::Object exports) {
  exports.Set("autocastEnter", Napi::Function::New(env, AutocastEnter, "autocastEnter"));
  exports.Set("autocastExit", Napi::Function::New(env, AutocastExit, "autocastExit"));
  exports.Set("autocastIsEnabled", Napi::Function::New(env, AutocastIsEnabled, "autocastIsEnabled"));
}

}  // namespace tgt
