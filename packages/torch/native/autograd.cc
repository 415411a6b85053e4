// Autograd entry points: backward, .grad, requires_grad_, grad mode.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>

#include "errors.h"
#include "handles.h"

namespace tgt {
namespace {

// backward(id, gradId | null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info, "backward", [&]() -> Napi::Value {
    const at::Tensor& root = tensorArg(info[0], "backward");
    at::Tensor grad;
    if (info.Length() > 1 && info[1].IsNumber()) grad = tensorArg(info[1], "backward gradient");
    bool retain = info.Length() > 2 && info[2].ToBoolean().Value();
    bool create = info.Length() > 3 && info[3].ToBoolean().Value();
    if (!grad.defined() && root.numel() != 1) {
      throw Napi::Error::New(info.Env(),
                             "backward: grad can be implicitly created only for scalar outputs; pass a "
                             "gradient of the output's shape");
    }
    torch::autograd::backward({root}, grad.defined() ? torch::autograd::variable_list{grad}
                                                     : torch::autograd::variable_list{},
                              retain, create);
    return info.Env().Undefined();
  });
}

// grad(id) -> id | null (a new handle the caller owns)
Napi::Value Grad(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info[0], "grad");
  const at::Tensor& g = t.grad();
  if (!g.defined()) return info.Env().Null();
  return Napi::Number::New(info.Env(), handles().add(g));
}

// setGrad(id, gradId | null): null sets .grad to None (zero_grad(set_to_none=True)).
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "setGrad", [&]() -> Napi::Value {
    const at::Tensor& t = tensorArg(info[0], "setGrad");
    if (info[1].IsNumber()) {
      t.mutable_grad() = tensorArg(info[1], "setGrad gradient");
    } else {
      t.mutable_grad() = at::Tensor();
    }
    return info.Env().Undefined();
  });
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "requires_grad_", [&]() -> Napi::Value {
    const at::Tensor& t = tensorArg(info[0], "requires_grad_");
    t.requires_grad_(info[1].ToBoolean().Value());
    return info.Env().Undefined();
  });
}

// setData(id, srcId): as PyTorch's `param.data = src`; the handle keeps its identity, so
// modules can move or cast parameters in place.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  return guarded(info, "set_data", [&]() -> Napi::Value {
    const at::Tensor& t = tensorArg(info[0], "set_data");
    const at::Tensor& src = tensorArg(info[1], "set_data source");
    const_cast<at::Tensor&>(t).set_data(src);
    return info.Env().Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info[0], "is_leaf").is_leaf());
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

}  // namespace

void registerAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, Backward, "backward"));
  exports.Set("grad", Napi::Function::New(env, Grad, "grad"));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad, "setGrad"));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad, "requiresGrad"));
  exports.Set("setData", Napi::Function::New(env, SetData, "setData"));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf, "isLeaf"));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled, "isGradEnabled"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
}

}  // namespace tgt
