// One generic call path to every ATen operator: look the schema up once,
// then convert JavaScript values to IValues by the schema's argument types.
#pragma once

#include <napi.h>

namespace tgt {

void registerDispatch(Napi::Env env, Napi::Object exports);

}  // namespace tgt
