// Every entry point runs inside guarded(): no C++ exception crosses N-API.
// libtorch's message is kept (without its C++ backtrace), prefixed by context.
#pragma once

#include <c10/util/Exception.h>
#include <napi.h>

#include <string>

namespace tgt {

template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, const std::string& context, Fn&& fn) {
  Napi::Env env = info.Env();
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context + ": " + e.what());
  }
}

}  // namespace tgt
