#include "objects/pool_object.hpp"

#include <cmath>
#include <cstring>

#include "util/errors.hpp"

namespace tsmm {

struct ViewRec {
  Napi::Reference<Napi::ArrayBuffer> ref;  // weak
  std::shared_ptr<PoolCore> core;
  std::shared_ptr<ViewTable> table;
  uint64_t id = 0;
  uint64_t extent = 0;
  uint64_t offset = 0, length = 0;
  uint64_t handouts = 1;  // times view() returned this buffer; unview() detaches when the last claim goes
  bool released = false;  // unview() already dropped the count
};

// rethrowJs -- see header.
void rethrowJs(Napi::Env env, const ShelfErr& e) {
  if (e.rangeError) throw Napi::RangeError::New(env, e.message);
  if (e.typeError) throw Napi::TypeError::New(env, e.message);
  AddonData* d = env.GetInstanceData<AddonData>();
  auto str = [&](const std::string& s) -> napi_value { return s.empty() ? env.Undefined() : Napi::String::New(env, s); };
  Napi::Value err = d->errorFactory.Call({Napi::String::New(env, e.code), Napi::String::New(env, e.message),
                                          str(e.errnoName), str(e.syscall), str(e.path)});
  throw Napi::Error(env, err);
}

#define JS_TRY try {
#define JS_CATCH                                   \
  }                                                \
  catch (const ShelfErr& e) {                      \
    rethrowJs(info.Env(), e);                      \
  }

// argU64 -- a JS number that is a non-negative safe integer.
uint64_t argU64(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) failType(std::string("Expected ") + what + " to be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740991.0) {
    failRange(std::string("Expected ") + what + " to be a non-negative safe integer, got " + v.ToString().Utf8Value());
  }
  return (uint64_t)d;
}

// argName -- a JS string as UTF-8; a lone surrogate (not representable in UTF-8) is ESHELF_NAME.
std::string argName(const Napi::Value& v, const char* what) {
  if (!v.IsString()) failType(std::string("Expected ") + what + " to be a string");
  std::u16string u = v.As<Napi::String>().Utf16Value();
  for (size_t i = 0; i < u.size(); i++) {
    char16_t c = u[i];
    if (c >= 0xD800 && c <= 0xDBFF) {
      if (i + 1 < u.size() && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) { i++; continue; }
      fail("ESHELF_NAME", std::string(what) + " contains a lone surrogate: not valid UTF-8");
    }
    if (c >= 0xDC00 && c <= 0xDFFF) fail("ESHELF_NAME", std::string(what) + " contains a lone surrogate: not valid UTF-8");
  }
  return v.As<Napi::String>().Utf8Value();
}

Napi::Function PoolObject::Define(Napi::Env env) {
  return DefineClass(env, "NativePool",
                     {InstanceMethod<&PoolObject::JS_alloc>("alloc"),
                      InstanceMethod<&PoolObject::JS_release>("release"),
                      InstanceMethod<&PoolObject::JS_commit>("commit"),
                      InstanceMethod<&PoolObject::JS_get>("get"),
                      InstanceMethod<&PoolObject::JS_has>("has"),
                      InstanceMethod<&PoolObject::JS_names>("names"),
                      InstanceMethod<&PoolObject::JS_entries>("entries"),
                      InstanceMethod<&PoolObject::JS_view>("view"),
                      InstanceMethod<&PoolObject::JS_persist>("persist"),
                      InstanceMethod<&PoolObject::JS_write>("write"),
                      InstanceMethod<&PoolObject::JS_zero>("zero"),
                      InstanceMethod<&PoolObject::JS_advise>("advise"),
                      InstanceMethod<&PoolObject::JS_unview>("unview"),
                      InstanceMethod<&PoolObject::JS_read>("read"),
                      InstanceMethod<&PoolObject::JS_copy>("copy"),
                      InstanceMethod<&PoolObject::JS_grow>("grow"),
                      InstanceMethod<&PoolObject::JS_refresh>("refresh"),
                      InstanceMethod<&PoolObject::JS_compact>("compact"),
                      InstanceMethod<&PoolObject::JS_stats>("stats"),
                      InstanceMethod<&PoolObject::JS_close>("close"),
                      InstanceAccessor<&PoolObject::JS_closed>("closed")});
}

PoolObject::PoolObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PoolObject>(info) {}

// ~PoolObject -- the JS object was collected: no view can still be reachable from JS except
// through its own ArrayBuffer, whose finalizer holds the core alive; unmap only when none remain.
PoolObject::~PoolObject() {
  views_->ownerGone = true;
  if (core_ && views_->live.empty()) core_->close();
}

PoolCore& PoolObject::core(Napi::Env env) {
  if (!core_) fail("ESHELF_CLOSED", "pool is closed");
  return *core_;
}

Napi::Value PoolObject::JS_alloc(const Napi::CallbackInfo& info) {
  JS_TRY
  uint64_t len = argU64(info[0], "length");
  return Napi::Number::New(info.Env(), (double)core(info.Env()).alloc(len));
  JS_CATCH
}

Napi::Value PoolObject::JS_release(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).release(argU64(info[0], "offset"));
  return info.Env().Undefined();
  JS_CATCH
}

// JS_commit -- ops: [{type:'put', name, offset, length, meta?}, {type:'erase', name}]
Napi::Value PoolObject::JS_commit(const Napi::CallbackInfo& info) {
  JS_TRY
  Napi::Env env = info.Env();
  PoolCore& c = core(env);
  if (!info[0].IsArray()) failType("Expected the ops to be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<BatchOp> ops;
  ops.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) failType("Expected op " + std::to_string(i) + " to be an object");
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value t = o.Get("type");
    std::string type = t.IsString() ? t.As<Napi::String>().Utf8Value() : "";
    BatchOp op;
    if (type == "put") op.put = true;
    else if (type == "erase") op.put = false;
    else failType("Expected op " + std::to_string(i) + ".type to be \"put\" or \"erase\"");
    op.name = argName(o.Get("name"), "the entry name");
    if (op.put) {
      op.offset = argU64(o.Get("offset"), "op.offset");
      op.length = argU64(o.Get("length"), "op.length");
      Napi::Value m = o.Get("meta");
      if (m.IsTypedArray()) {
        Napi::TypedArray ta = m.As<Napi::TypedArray>();
        Napi::ArrayBuffer ab = ta.ArrayBuffer();
        const char* p = static_cast<const char*>(ab.Data()) + ta.ByteOffset();
        op.meta.assign(p, ta.ByteLength());
      } else if (!m.IsUndefined() && !m.IsNull()) {
        failType("Expected op.meta to be a Uint8Array");
      }
    }
    ops.push_back(std::move(op));
  }
  return Napi::Number::New(env, (double)c.commit(ops));
  JS_CATCH
}

// entryObject -- {name, offset, length, meta (a copy), seq}
static Napi::Object entryObject(Napi::Env env, const std::string& name, const Entry& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, name));
  o.Set("offset", Napi::Number::New(env, (double)e.offset));
  o.Set("length", Napi::Number::New(env, (double)e.length));
  o.Set("meta", Napi::Buffer<char>::Copy(env, e.meta.data(), e.meta.size()));
  o.Set("seq", Napi::Number::New(env, (double)e.seq));
  return o;
}

Napi::Value PoolObject::JS_get(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string name = argName(info[0], "the entry name");
  const Entry* e = core(info.Env()).get(name);
  if (!e) return info.Env().Null();
  return entryObject(info.Env(), name, *e);
  JS_CATCH
}

Napi::Value PoolObject::JS_has(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string name = argName(info[0], "the entry name");
  return Napi::Boolean::New(info.Env(), core(info.Env()).get(name) != nullptr);
  JS_CATCH
}

Napi::Value PoolObject::JS_names(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string prefix = info[0].IsUndefined() ? "" : argName(info[0], "the prefix");
  std::vector<std::string> names = core(info.Env()).names(prefix);
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set((uint32_t)i, Napi::String::New(info.Env(), names[i]));
  return out;
  JS_CATCH
}

Napi::Value PoolObject::JS_entries(const Napi::CallbackInfo& info) {
  JS_TRY
  std::string prefix = info[0].IsUndefined() ? "" : argName(info[0], "the prefix");
  PoolCore& c = core(info.Env());
  std::vector<std::string> names = c.names(prefix);
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set((uint32_t)i, entryObject(info.Env(), names[i], *c.get(names[i])));
  return out;
  JS_CATCH
}

// viewFinalize -- a view was collected: drop the extent's view count and forget the view.
static void forgetRange(ViewRec* rec) {
  auto it = rec->table->byRange.find({rec->offset, rec->length});
  if (it != rec->table->byRange.end() && it->second == rec) rec->table->byRange.erase(it);
}

static void viewFinalize(Napi::Env, void*, ViewRec* rec) {
  if (!rec->released) rec->core->dropView(rec->extent);
  forgetRange(rec);
  rec->table->live.erase(rec->id);
  if (rec->table->ownerGone && rec->table->live.empty()) rec->core->close();  // unmaps: no view is left
  delete rec;
}

// JS_view -- zero-copy ArrayBuffer over [offset, offset+length) of one extent.
Napi::Value PoolObject::JS_view(const Napi::CallbackInfo& info) {
  JS_TRY
  Napi::Env env = info.Env();
  PoolCore& c = core(env);
  uint64_t off = argU64(info[0], "offset");
  uint64_t len = argU64(info[1], "length");
  // A live view of exactly this range is handed out again: no new external buffer (V8 counts each one as
  // external memory and collects more often), no second pin.
  auto cached = views_->byRange.find({off, len});
  if (cached != views_->byRange.end() && !cached->second->released) {
    Napi::ArrayBuffer v = cached->second->ref.Value();
    if (!v.IsEmpty() && !v.IsDetached()) {
      c.checkRange(off, len, "view");  // the extent must still be allocated or named (not pinned)
      cached->second->handouts++;
      return v;
    }
  }
  uint64_t base = c.addView(off, len);  // checks range, extent and the 4 GiB cap
  if (len == 0) {
    c.dropView(base);
    return Napi::ArrayBuffer::New(env, 0);
  }
  ViewRec* rec = new ViewRec();
  rec->core = core_;
  rec->table = views_;
  rec->id = views_->nextId++;
  rec->extent = base;
  rec->offset = off;
  rec->length = len;
  Napi::ArrayBuffer ab;
  try {
    ab = Napi::ArrayBuffer::New(env, c.base() + off, (size_t)len, viewFinalize, rec);
  } catch (...) {
    c.dropView(base);
    delete rec;
    throw;
  }
  rec->ref = Napi::Weak(ab);
  views_->live.emplace(rec->id, rec);
  views_->byRange[{off, len}] = rec;
  return ab;
  JS_CATCH
}

Napi::Value PoolObject::JS_persist(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).persist(argU64(info[0], "offset"), argU64(info[1], "length"));
  return info.Env().Undefined();
  JS_CATCH
}

// JS_write -- copy bytes of an ArrayBuffer view into an extent (no view is created, nothing is pinned).
Napi::Value PoolObject::JS_write(const Napi::CallbackInfo& info) {
  JS_TRY
  PoolCore& c = core(info.Env());
  uint64_t off = argU64(info[0], "offset");
  const uint8_t* src = nullptr;
  size_t n = 0;
  if (info[1].IsTypedArray()) {
    Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    n = ta.ByteLength();
  } else if (info[1].IsDataView()) {
    Napi::DataView dv = info[1].As<Napi::DataView>();
    src = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    n = dv.ByteLength();
  } else if (info[1].IsArrayBuffer()) {
    Napi::ArrayBuffer ab = info[1].As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    n = ab.ByteLength();
  } else {
    failType("Expected the data to be a TypedArray, DataView or ArrayBuffer");
  }
  if (c.readOnly()) fail("ESHELF_READONLY", "pool " + c.name() + " is open read-only");
  c.writeBytes(off, src, n);
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value PoolObject::JS_zero(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).zero(argU64(info[0], "offset"), argU64(info[1], "length"));
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value PoolObject::JS_advise(const Napi::CallbackInfo& info) {
  JS_TRY
  uint64_t off = argU64(info[0], "offset");
  uint64_t len = argU64(info[1], "length");
  if (!info[2].IsString()) failType("Expected the advice to be a string");
  core(info.Env()).advise(off, len, info[2].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
  JS_CATCH
}

// JS_unview -- detach a view handed out by this pool now and stop it pinning its extent.
// Returns false if the buffer is not a live view of this pool.
Napi::Value PoolObject::JS_unview(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).requireOpen();
  if (!info[0].IsArrayBuffer()) failType("Expected an ArrayBuffer returned by view()");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  for (auto& kv : views_->live) {
    ViewRec* r = kv.second;
    if (r->released) continue;
    Napi::ArrayBuffer v = r->ref.Value();
    if (v.IsEmpty() || !v.StrictEquals(ab)) continue;
    if (r->handouts > 1) {  // someone else got the same buffer from view(): only this claim goes
      r->handouts--;
      return Napi::Boolean::New(info.Env(), true);
    }
    r->released = true;
    forgetRange(r);
    if (core_) core_->dropView(r->extent);
    if (!ab.IsDetached()) ab.Detach();
    return Napi::Boolean::New(info.Env(), true);
  }
  return Napi::Boolean::New(info.Env(), false);
  JS_CATCH
}

// JS_copy -- memmove between two ranges of the pool (each inside one extent), without any view.
Napi::Value PoolObject::JS_copy(const Napi::CallbackInfo& info) {
  JS_TRY
  PoolCore& c = core(info.Env());
  uint64_t src = argU64(info[0], "source offset");
  uint64_t dst = argU64(info[1], "target offset");
  uint64_t len = argU64(info[2], "length");
  if (c.readOnly()) fail("ESHELF_READONLY", "pool " + c.name() + " is open read-only");
  c.checkRange(src, len, "copy source");
  c.checkRange(dst, len, "copy target");
  if (len) memmove(c.base() + dst, c.base() + src, (size_t)len);
  return info.Env().Undefined();
  JS_CATCH
}

// JS_read -- copy bytes out of an extent into a new Buffer.
Napi::Value PoolObject::JS_read(const Napi::CallbackInfo& info) {
  JS_TRY
  PoolCore& c = core(info.Env());
  uint64_t off = argU64(info[0], "offset");
  uint64_t len = argU64(info[1], "length");
  if (len > fmt::kMaxView) failRange("read of " + std::to_string(len) + " bytes exceeds 4 GiB");
  c.checkRange(off, len, "read");
  return Napi::Buffer<uint8_t>::Copy(info.Env(), c.base() + off, (size_t)len);
  JS_CATCH
}

Napi::Value PoolObject::JS_grow(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).grow(argU64(info[0], "size"));
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value PoolObject::JS_refresh(const Napi::CallbackInfo& info) {
  JS_TRY
  return Napi::Boolean::New(info.Env(), core(info.Env()).refresh());
  JS_CATCH
}

Napi::Value PoolObject::JS_compact(const Napi::CallbackInfo& info) {
  JS_TRY
  core(info.Env()).compact();
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value PoolObject::JS_stats(const Napi::CallbackInfo& info) {
  JS_TRY
  Napi::Env env = info.Env();
  Stats s = core(env).stats();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, (double)v)); };
  num("size", s.size);
  num("dataStart", s.dataStart);
  num("used", s.used);
  num("reserved", s.reserved);
  num("pinned", s.pinned);
  num("free", s.free);
  num("largestFree", s.largestFree);
  o.Set("fragmentation", Napi::Number::New(env, s.fragmentation));
  num("entries", s.entries);
  num("seq", s.seq);
  num("logBytes", s.logBytes);
  num("liveLogBytes", s.liveLogBytes);
  o.Set("medium", Napi::String::New(env, s.medium));
  o.Set("persistMethod", Napi::String::New(env, s.persistMethod));
  o.Set("durable", Napi::Boolean::New(env, s.durable));
  uint64_t nviews = 0;
  for (const auto& kv : views_->live) nviews += kv.second->released ? 0 : 1;
  num("views", nviews);
  o.Set("layout", Napi::String::New(env, s.single ? "single" : "pair"));
  o.Set("readOnly", Napi::Boolean::New(env, s.readOnly));
  return o;
  JS_CATCH
}

// detachAll -- detach every live view (JS then sees length 0) before the memory goes away.
void PoolObject::detachAll() {
  std::vector<ViewRec*> recs;
  recs.reserve(views_->live.size());
  for (auto& kv : views_->live) recs.push_back(kv.second);
  for (ViewRec* r : recs) {
    if (views_->live.find(r->id) == views_->live.end()) continue;  // finalized meanwhile
    Napi::ArrayBuffer ab = r->ref.Value();
    if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
  }
}

Napi::Value PoolObject::JS_close(const Napi::CallbackInfo& info) {
  JS_TRY
  if (core_ && !core_->closed()) {
    detachAll();
    core_->close();
  }
  return info.Env().Undefined();
  JS_CATCH
}

Napi::Value PoolObject::JS_closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !core_ || core_->closed());
}

}  // namespace tsmm
