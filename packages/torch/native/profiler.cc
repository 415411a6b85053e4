// A per-operator time profile from libtorch's own instrumentation: RecordFunction callbacks
// (what torch.profiler and the legacy autograd profiler hook) on every operator and every
// autograd node, on every thread (backward runs on autograd's). Per name: calls, total time and
// self time (total minus the time of operators called inside it), aggregated in memory; no
// trace is kept, so a profile of thousands of steps costs a map lookup per op.
#include <ATen/record_function.h>
#include <napi.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "errors.h"

namespace tgt {
namespace {

using Clock = std::chrono::steady_clock;

struct Stat {
  double calls = 0;
  double totalUs = 0;
  double selfUs = 0;
};

struct Started : at::ObserverContext {
  Clock::time_point at;
};

std::mutex statsMutex;
std::unordered_map<std::string, Stat>& stats() {
  static std::unordered_map<std::string, Stat> s;
  return s;
}
// The time spent in children of each open frame on this thread.
thread_local std::vector<double> childTime;
at::CallbackHandle handle = 0;

std::unique_ptr<at::ObserverContext> onEnter(const at::RecordFunction&) {
  auto started = std::make_unique<Started>();
  childTime.push_back(0);
  started->at = Clock::now();
  return started;
}

void onExit(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  const double total = std::chrono::duration<double, std::micro>(Clock::now() - static_cast<Started*>(ctx)->at).count();
  double children = 0;
  if (!childTime.empty()) {
    children = childTime.back();
    childTime.pop_back();
  }
  if (!childTime.empty()) childTime.back() += total;
  std::lock_guard<std::mutex> lock(statsMutex);
  Stat& s = stats()[fn.name()];
  s.calls += 1;
  s.totalUs += total;
  s.selfUs += total - children;
}

Napi::Value ProfilerStart(const Napi::CallbackInfo& info) {
  return guarded(info, "profiler", [&]() -> Napi::Value {
    if (handle != 0) throw Napi::Error::New(info.Env(), "profiler: already running; stop it first");
    {
      std::lock_guard<std::mutex> lock(statsMutex);
      stats().clear();
    }
    handle = at::addGlobalCallback(at::RecordFunctionCallback(onEnter, onExit).scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
    return info.Env().Undefined();
  });
}

// profilerStop() -> [[name, calls, totalUs, selfUs], ...]
Napi::Value ProfilerStop(const Napi::CallbackInfo& info) {
  return guarded(info, "profiler", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (handle == 0) throw Napi::Error::New(env, "profiler: not running");
    at::removeCallback(handle);
    handle = 0;
    std::lock_guard<std::mutex> lock(statsMutex);
    Napi::Array out = Napi::Array::New(env, stats().size());
    uint32_t i = 0;
    for (const auto& [name, s] : stats()) {
      Napi::Array row = Napi::Array::New(env, 4);
      row.Set(0u, Napi::String::New(env, name));
      row.Set(1u, Napi::Number::New(env, s.calls));
      row.Set(2u, Napi::Number::New(env, s.totalUs));
      row.Set(3u, Napi::Number::New(env, s.selfUs));
      out.Set(i++, row);
    }
    stats().clear();
    return out;
  });
}

}  // namespace

void registerProfiler(Napi::Env env, Napi::Object exports) {
  exports.Set("profilerStart", Napi::Function::New(env, ProfilerStart, "profilerStart"));
  exports.Set("profilerStop", Napi::Function::New(env, ProfilerStop, "profilerStop"));
}

}  // namespace tgt
