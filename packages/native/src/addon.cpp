// addon.cpp -- module entry: binds the error factory, opens pools, and exposes the test hooks.
#include <napi.h>

#include "objects/pool_object.hpp"
#include "sys.hpp"
#include "util/crc32c.hpp"
#include "util/debug.hpp"
#include "util/errors.hpp"

namespace tsmm {
namespace {

#define JS_TRY try {
#define JS_CATCH                                   \
  }                                                \
  catch (const ShelfErr& e) {                      \
    rethrowJs(info.Env(), e);                      \
  }

// JS_init -- remember the JS factory that builds ShelfError instances.
Napi::Value JS_init(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "init expects the ShelfError factory");
  AddonData* d = info.Env().GetInstanceData<AddonData>();
  d->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

bool optBool(Napi::Object o, const char* k) {
  Napi::Value v = o.Get(k);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

// JS_openPool -- (absPath, {size, create, forceNew, readOnly, layout, logSize, maxSize}) -> NativePool
Napi::Value JS_openPool(const Napi::CallbackInfo& info) {
  JS_TRY
  Napi::Env env = info.Env();
  std::string path = argName(info[0], "the pool path");
  if (!info[1].IsObject()) failType("Expected the options to be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  OpenOptions opts;
  opts.size = argU64(o.Get("size"), "size");
  opts.create = optBool(o, "create");
  opts.forceNew = optBool(o, "forceNew");
  opts.readOnly = optBool(o, "readOnly");
  Napi::Value layout = o.Get("layout");
  opts.single = layout.IsString() && layout.As<Napi::String>().Utf8Value() == "single";
  opts.logSize = argU64(o.Get("logSize"), "logSize");
  opts.maxSize = argU64(o.Get("maxSize"), "maxSize");
  std::shared_ptr<PoolCore> core = PoolCore::open(path, opts);
  AddonData* d = env.GetInstanceData<AddonData>();
  Napi::Object obj = d->poolCtor.New({});
  PoolObject::Unwrap(obj)->attach(std::move(core));
  return obj;
  JS_CATCH
}

Napi::Value JS_destroyPool(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string path = argName(info[0], "the pool path");
  bool single = info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "single";
  PoolCore::destroy(path, single);
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value JS_poolExists(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string path = argName(info[0], "the pool path");
  bool single = info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "single";
  return Napi::Boolean::New(info.Env(), PoolCore::exists(path, single));
  JS_CATCH
}

Napi::Value JS_crc32c(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "crc32c expects a Uint8Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  uint32_t seed = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return Napi::Number::New(info.Env(), crc32c(seed, p, ta.ByteLength()));
}

int errnoFromName(const std::string& n) {
  static const struct { const char* n; int v; } t[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"ENOMEM", ENOMEM},
      {"EDQUOT", EDQUOT}, {"EACCES", EACCES}, {"EROFS", EROFS}, {"EPERM", EPERM}, {"EXDEV", EXDEV}, {"EINVAL", EINVAL}};
  for (const auto& e : t) if (n == e.n) return e.v;
  return 0;
}

// JS_injectFault -- (syscall, errnoName, after, count): the test-only fault hook.
Napi::Value JS_injectFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "injectFault(syscall, errno, after, count)");
  int err = errnoFromName(info[1].As<Napi::String>().Utf8Value());
  if (!err) throw Napi::RangeError::New(env, "injectFault: unknown errno " + info[1].As<Napi::String>().Utf8Value());
  long after = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  long count = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 1;
  if (!sys::injectFault(info[0].As<Napi::String>().Utf8Value(), err, after, count)) {
    throw Napi::RangeError::New(env, "injectFault: unknown syscall " + info[0].As<Napi::String>().Utf8Value());
  }
  return env.Undefined();
}

Napi::Value JS_clearFaults(const Napi::CallbackInfo& info) {
  sys::clearFaults();
  return info.Env().Undefined();
}

Napi::Value JS_debugLevel(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber()) {
    int l = info[0].As<Napi::Number>().Int32Value();
    g_debug = l < 0 ? 0 : (l > 3 ? 3 : l);
  }
  return Napi::Number::New(info.Env(), g_debug);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  debugInitFromEnv();
  AddonData* d = new AddonData();
  env.SetInstanceData<AddonData>(d);
  d->poolCtor = Napi::Persistent(PoolObject::Define(env));
  exports.Set("init", Napi::Function::New(env, JS_init));
  exports.Set("openPool", Napi::Function::New(env, JS_openPool));
  exports.Set("destroyPool", Napi::Function::New(env, JS_destroyPool));
  exports.Set("poolExists", Napi::Function::New(env, JS_poolExists));
  exports.Set("crc32c", Napi::Function::New(env, JS_crc32c));
  exports.Set("debugLevel", Napi::Function::New(env, JS_debugLevel));
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("injectFault", Napi::Function::New(env, JS_injectFault));
  testing.Set("clearFaults", Napi::Function::New(env, JS_clearFaults));
  exports.Set("testing", testing);
  return exports;
}

}  // namespace
}  // namespace tsmm

static Napi::Object InitTsmm(Napi::Env env, Napi::Object exports) { return tsmm::Init(env, exports); }

NODE_API_MODULE(tsmm, InitTsmm)
