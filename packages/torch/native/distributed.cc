// Process groups from PyTorch's own distributed engine (c10d): a TCPStore rendezvous and a
// Gloo process group, and the collectives data-parallel training needs, on tensors of the
// handle table. One group per process, as torch.distributed's default group. Collectives
// block the calling thread until done; a peer that died surfaces as an error (Gloo closes
// the connection) or, at worst, after the group's timeout.
//
// Built only where Gloo's headers are (TGT_WITH_GLOO, from find-libtorch.mjs); elsewhere every
// entry point says what to install.
#include <napi.h>
#if defined(TGT_WITH_GLOO) || defined(TGT_WITH_NCCL)
#define TGT_WITH_C10D 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#endif
#ifdef TGT_WITH_GLOO
// libtorch's own build defines this when it has Gloo; its headers hide the Gloo group otherwise.
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef TGT_WITH_NCCL
// A CUDA libtorch with NCCL (find-libtorch.mjs sees its ProcessGroupNCCL header): collectives on CUDA tensors.
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <memory>
#include <string>

#include "errors.h"
#include "handles.h"

namespace tgt {
namespace {
#ifdef TGT_WITH_C10D

// What Gloo and NCCL groups derive from: a ProcessGroup in libtorch 1.x, a Backend in 2.x.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> pg;
  int rank;
  int size;
};

std::unique_ptr<Group>& group() {
  static std::unique_ptr<Group> g;
  return g;
}

Group& current(Napi::Env env, const char* what) {
  if (!group()) throw Napi::Error::New(env, std::string(what) + ": no process group; call initProcessGroup() first");
  return *group();
}

c10d::ReduceOp reduceOp(Napi::Env env, const std::string& name) {
  if (name == "sum") return c10d::ReduceOp::SUM;
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  throw Napi::RangeError::New(env, "all_reduce: op must be sum, max, min or product, got " + name);
}

void waitFor(const c10::intrusive_ptr<c10d::Work>& work) {
  work->wait();
}

// initProcessGroup(backend, host, port, rank, worldSize, timeoutMs, interface)
Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
  return guarded(info, "init_process_group", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const std::string backend = info[0].As<Napi::String>().Utf8Value();
    const std::string host = info[1].As<Napi::String>().Utf8Value();
    const int port = info[2].As<Napi::Number>().Int32Value();
    const int rank = info[3].As<Napi::Number>().Int32Value();
    const int size = info[4].As<Napi::Number>().Int32Value();
    const auto timeout = std::chrono::milliseconds(info[5].As<Napi::Number>().Int64Value());
    const std::string hostname = info[6].As<Napi::String>().Utf8Value();
    if (group()) throw Napi::Error::New(env, "init_process_group: this process already has a process group; destroy it first");
    bool built = false;
#ifdef TGT_WITH_GLOO
    built = built || backend == "gloo";
#endif
#ifdef TGT_WITH_NCCL
    built = built || backend == "nccl";
#endif
    if (!built) {
      throw Napi::RangeError::New(env, "init_process_group: backend " + backend +
                                           " is not built into this addon (gloo needs Gloo's headers, e.g. libgloo-dev; nccl a CUDA libtorch with NCCL)");
    }
    if (size < 1 || rank < 0 || rank >= size) throw Napi::RangeError::New(env, "init_process_group: need 0 <= rank < world size");
    if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "init_process_group: port must be 1-65535");
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = rank == 0;
    opts.numWorkers = static_cast<std::size_t>(size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(host, opts);
    // Namespaced as torch.distributed does, so a store shared with other users stays apart.
    auto store = c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
    c10::intrusive_ptr<Collectives> pg;
#ifdef TGT_WITH_NCCL
    if (backend == "nccl") {
      // Each rank drives the CUDA device torchrun gave it (the caller sets it as current).
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
    }
#endif
#ifdef TGT_WITH_GLOO
    if (!pg) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(hostname.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                                  : c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
      options->threads = 2;
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
    }
#endif
    group() = std::make_unique<Group>(Group{tcp, pg, rank, size});
    return env.Undefined();
  });
}

// allReduce_(tensorId, op): in place, every rank gets the reduction.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  return guarded(info, "all_reduce", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "all_reduce");
    std::vector<at::Tensor> tensors{tensorArg(info[0], "all_reduce tensor")};
    c10d::AllreduceOptions opts;
    opts.reduceOp = reduceOp(info.Env(), info[1].As<Napi::String>().Utf8Value());
    waitFor(g.pg->allreduce(tensors, opts));
    return info.Env().Undefined();
  });
}

// broadcast_(tensorId, root): in place, every rank gets root's values.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  return guarded(info, "broadcast", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "broadcast");
    std::vector<at::Tensor> tensors{tensorArg(info[0], "broadcast tensor")};
    c10d::BroadcastOptions opts;
    opts.rootRank = info[1].As<Napi::Number>().Int32Value();
    if (opts.rootRank < 0 || opts.rootRank >= g.size) throw Napi::RangeError::New(info.Env(), "broadcast: root must be a rank of the group");
    waitFor(g.pg->broadcast(tensors, opts));
    return info.Env().Undefined();
  });
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  return guarded(info, "barrier", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "barrier");
    waitFor(g.pg->barrier());
    return info.Env().Undefined();
  });
}

// storeSet(key, value) / storeGet(key) -> string: small messages between ranks (e.g. "rank 1 failed: ...").
Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  return guarded(info, "store_set", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "store_set");
    const std::string value = info[1].As<Napi::String>().Utf8Value();
    g.store->set(info[0].As<Napi::String>().Utf8Value(), std::vector<uint8_t>(value.begin(), value.end()));
    return info.Env().Undefined();
  });
}

Napi::Value StoreCheck(const Napi::CallbackInfo& info) {
  return guarded(info, "store_check", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "store_check");
    return Napi::Boolean::New(info.Env(), g.store->check({info[0].As<Napi::String>().Utf8Value()}));
  });
}

Napi::Value StoreGet(const Napi::CallbackInfo& info) {
  return guarded(info, "store_get", [&]() -> Napi::Value {
    Group& g = current(info.Env(), "store_get");
    const std::vector<uint8_t> value = g.store->get(info[0].As<Napi::String>().Utf8Value());
    return Napi::String::New(info.Env(), std::string(value.begin(), value.end()));
  });
}

// processGroupInfo() -> { rank, worldSize } or null
Napi::Value ProcessGroupInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!group()) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", group()->rank);
  out.Set("worldSize", group()->size);
  return out;
}

Napi::Value DestroyProcessGroup(const Napi::CallbackInfo& info) {
  return guarded(info, "destroy_process_group", [&]() -> Napi::Value {
    group().reset();
    return info.Env().Undefined();
  });
}

#else  // TGT_WITH_C10D

Napi::Value NoGloo(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "distributed training: this build of the addon has no Gloo (its headers were not found when it was built); "
                         "install them (Debian: apt-get install libgloo-dev) and rebuild (npm run build:native)");
}

Napi::Value ProcessGroupInfo(const Napi::CallbackInfo& info) { return info.Env().Null(); }

#define InitProcessGroup NoGloo
#define AllReduce NoGloo
#define Broadcast NoGloo
#define Barrier NoGloo
#define StoreSet NoGloo
#define StoreGet NoGloo
#define StoreCheck NoGloo
#define DestroyProcessGroup NoGloo
#endif
}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("initProcessGroup", Napi::Function::New(env, InitProcessGroup, "initProcessGroup"));
  exports.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  exports.Set("storeSet", Napi::Function::New(env, StoreSet, "storeSet"));
  exports.Set("storeGet", Napi::Function::New(env, StoreGet, "storeGet"));
  exports.Set("storeCheck", Napi::Function::New(env, StoreCheck, "storeCheck"));
  exports.Set("processGroupInfo", Napi::Function::New(env, ProcessGroupInfo, "processGroupInfo"));
  exports.Set("destroyProcessGroup", Napi::Function::New(env, DestroyProcessGroup, "destroyProcessGroup"));
  exports.Set("hasGloo", Napi::Boolean::New(env,
#ifdef TGT_WITH_GLOO
                                            true
#else
                                            false
#endif
                                            ));
  exports.Set("hasNccl", Napi::Boolean::New(env,
#ifdef TGT_WITH_NCCL
                                            true
#else
                                            false
#endif
                                            ));
}

}  // namespace tgt
