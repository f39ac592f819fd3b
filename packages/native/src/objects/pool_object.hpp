// pool_object.hpp -- the JS-visible Pool: argument checks, views, and error conversion.
//
// View lifetime: every ArrayBuffer handed out is registered in a ViewTable (a weak reference
// per view). close() detaches each one that is still alive *before* the pool unmaps, so a
// view can never reach unmapped memory: JS sees byteLength 0. A view's finalizer only drops
// the extent's view count (which may free a Pinned extent); it never unmaps anything.
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <unordered_map>

#include "pool.hpp"
#include "util/errors.hpp"

namespace tsmm {

struct AddonData {
  Napi::FunctionReference errorFactory;  // (code, message, errno, syscall, path) => ShelfError
  Napi::FunctionReference poolCtor;
};

// rethrowJs -- turn a ShelfErr into the matching JS exception (ShelfError, RangeError or TypeError).
[[noreturn]] void rethrowJs(Napi::Env env, const ShelfErr& e);

struct ViewRec;
struct ViewTable {
  uint64_t nextId = 1;
  std::unordered_map<uint64_t, ViewRec*> live;
  std::map<std::pair<uint64_t, uint64_t>, ViewRec*> byRange;  // (offset, length) -> the live view of that range
  bool ownerGone = false;  // the JS Pool object was collected: close when the last view goes
};

class PoolObject : public Napi::ObjectWrap<PoolObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit PoolObject(const Napi::CallbackInfo& info);
  ~PoolObject() override;
  void attach(std::shared_ptr<PoolCore> core) { core_ = std::move(core); }

 private:
  Napi::Value JS_alloc(const Napi::CallbackInfo& info);
  Napi::Value JS_release(const Napi::CallbackInfo& info);
  Napi::Value JS_commit(const Napi::CallbackInfo& info);
  Napi::Value JS_get(const Napi::CallbackInfo& info);
  Napi::Value JS_has(const Napi::CallbackInfo& info);
  Napi::Value JS_names(const Napi::CallbackInfo& info);
  Napi::Value JS_entries(const Napi::CallbackInfo& info);
  Napi::Value JS_view(const Napi::CallbackInfo& info);
  Napi::Value JS_persist(const Napi::CallbackInfo& info);
  Napi::Value JS_write(const Napi::CallbackInfo& info);
  Napi::Value JS_zero(const Napi::CallbackInfo& info);
  Napi::Value JS_advise(const Napi::CallbackInfo& info);
  Napi::Value JS_unview(const Napi::CallbackInfo& info);
  Napi::Value JS_read(const Napi::CallbackInfo& info);
  Napi::Value JS_copy(const Napi::CallbackInfo& info);
  Napi::Value JS_grow(const Napi::CallbackInfo& info);
  Napi::Value JS_refresh(const Napi::CallbackInfo& info);
  Napi::Value JS_compact(const Napi::CallbackInfo& info);
  Napi::Value JS_stats(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_closed(const Napi::CallbackInfo& info);
  PoolCore& core(Napi::Env env);
  void detachAll();

  std::shared_ptr<PoolCore> core_;
  std::shared_ptr<ViewTable> views_ = std::make_shared<ViewTable>();
};

// Argument helpers shared with addon.cpp.
uint64_t argU64(const Napi::Value& v, const char* what);
std::string argName(const Napi::Value& v, const char* what);

}  // namespace tsmm
