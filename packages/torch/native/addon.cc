// Module entry: runtime settings (seed, threads, CUDA) and the registration of each part.
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <malloc.h>
#include <napi.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "dispatch.h"

// OpenBLAS's own report of the kernels it runs; weak, so that another BLAS leaves them null.
extern "C" char* openblas_get_corename(void) __attribute__((weak));
extern "C" char* openblas_get_config(void) __attribute__((weak));
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads(void) __attribute__((weak));

namespace tgt {
void registerTensorIo(Napi::Env env, Napi::Object exports);
void registerAutograd(Napi::Env env, Napi::Object exports);
void registerMsDeformAttn(Napi::Env env, Napi::Object exports);
void registerDistributed(Napi::Env env, Napi::Object exports);
void registerAmp(Napi::Env env, Napi::Object exports);
void registerProfiler(Napi::Env env, Napi::Object exports);
void registerDropoutMask(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "set_num_threads: need at least 1 thread");
  at::set_num_threads(n);
  // libtorch tells MKL its thread count but not OpenBLAS, whose own pool (sized from the
  // environment at load) would otherwise keep running and spinning beside a one-thread run.
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// mallocKeepFreedMemory(): glibc's malloc serves large blocks (over 128 KiB to 32 MiB, adaptively)
// with mmap and gives them back on free, so every fresh activation buffer page-faults again.
// Off: large blocks come from the heap and freed memory is kept for the next step.
Napi::Value MallocKeepFreedMemory(const Napi::CallbackInfo& info) {
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return info.Env().Undefined();
}

Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (openblas_get_corename == nullptr) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("core", Napi::String::New(env, openblas_get_corename()));
  out.Set("config", Napi::String::New(env, openblas_get_config != nullptr ? openblas_get_config() : ""));
  out.Set("threads", Napi::Number::New(env, openblas_get_num_threads != nullptr ? openblas_get_num_threads() : 0));
  return out;
}

}  // namespace
}  // namespace tgt

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tgt::registerDispatch(env, exports);
  tgt::registerTensorIo(env, exports);
  tgt::registerAutograd(env, exports);
  tgt::registerMsDeformAttn(env, exports);
  tgt::registerDistributed(env, exports);
  tgt::registerAmp(env, exports);
  tgt::registerProfiler(env, exports);
  tgt::registerDropoutMask(env, exports);
  exports.Set("manualSeed", Napi::Function::New(env, tgt::ManualSeed, "manualSeed"));
  exports.Set("setNumThreads", Napi::Function::New(env, tgt::SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, tgt::GetNumThreads, "getNumThreads"));
  exports.Set("mallocKeepFreedMemory", Napi::Function::New(env, tgt::MallocKeepFreedMemory, "mallocKeepFreedMemory"));
  exports.Set("cudaIsAvailable", Napi::Function::New(env, tgt::CudaIsAvailable, "cudaIsAvailable"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, tgt::CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("cudaSynchronize", Napi::Function::New(env, tgt::CudaSynchronize, "cudaSynchronize"));
  exports.Set("blasInfo", Napi::Function::New(env, tgt::BlasInfo, "blasInfo"));
  exports.Set("libtorchVersion", Napi::String::New(env, TORCH_VERSION));
  return exports;
}

NODE_API_MODULE(torch_native, Init)
