#include "wasm/engine/spidermonkey_context.h"

#include <js/CharacterEncoding.h>
#include <js/Conversions.h>
#include <js/Exception.h>
#include <js/Initialization.h>
#include <js/Interrupt.h>
#include <js/PropertyAndElement.h>
#include <js/Realm.h>
#include <js/Stack.h>
#include <js/String.h>
#include <pthread.h>

#include <algorithm>

namespace weir::wasm::sm {
namespace {

thread_local std::weak_ptr<ThreadContext> current_thread_context;

const JSClass kGlobalClass = {
    "global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps, nullptr, nullptr, nullptr};

size_t current_thread_stack_size() {
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return 0;
  void* address = nullptr;
  size_t size = 0;
  pthread_attr_getstack(&attributes, &address, &size);
  pthread_attr_destroy(&attributes);
  return size;
}

// SpiderMonkey's default stack quota (about 1 MiB) ignores the thread's real stack: on a
// smaller stack deep Wasm recursion crashes the process (measured with 512 KiB) instead of
// throwing "too much recursion", and an 8 MiB stack goes mostly unused. Size it from the
// real stack, leaving room for the host functions that run on top of Wasm frames.
void set_stack_quota(JSContext* cx) {
  constexpr size_t kMinHeadroom = size_t{128} * 1024;
  constexpr size_t kMaxStack = size_t{64} * 1024 * 1024;  // "unlimited" rlimits report huge sizes
  size_t stack_size = std::min(current_thread_stack_size(), kMaxStack);
  if (stack_size == 0) return;
  size_t headroom = std::max(stack_size / 16, kMinHeadroom);
  size_t quota = stack_size > 2 * headroom ? stack_size - headroom : stack_size / 2;
  JS_SetNativeStackQuota(cx, quota);
}

bool get_property(JSContext* cx, JS::HandleObject object, const char* name,
                  JS::MutableHandleValue out) {
  return JS_GetProperty(cx, object, name, out) && out.isObject();
}

}  // namespace

Result<std::shared_ptr<ThreadContext>> ThreadContext::for_current_thread(
    const std::shared_ptr<Library>& library) {
  if (std::shared_ptr<ThreadContext> context = current_thread_context.lock()) return context;
  JSContext* cx;
  {
    std::lock_guard lock(library->context_creation_mutex());
    cx = JS_NewContext(JS::DefaultHeapMaxBytes);
  }
  if (!cx) return Error{"JS_NewContext failed"};
  std::shared_ptr<ThreadContext> context(new ThreadContext(library, cx));
  Status initialized = context->initialize();
  if (!initialized) return Error{initialized.error()};
  current_thread_context = context;
  return context;
}

ThreadContext::ThreadContext(std::shared_ptr<Library> library, JSContext* cx)
    : library_(std::move(library)), cx_(cx), owner_thread_(std::this_thread::get_id()) {}

Status ThreadContext::initialize() {
  set_stack_quota(cx_);
  if (!JS::InitSelfHostedCode(cx_)) return Error{"JS::InitSelfHostedCode failed"};
  JS_SetContextPrivate(cx_, this);
  if (!JS_AddInterruptCallback(cx_, &ThreadContext::on_interrupt)) {
    return Error{"JS_AddInterruptCallback failed"};
  }
  JS::RealmOptions options;
  global_.init(cx_,
               JS_NewGlobalObject(cx_, &kGlobalClass, nullptr, JS::FireOnNewGlobalHook, options));
  if (!global_) return Error{"JS_NewGlobalObject failed"};
  // Everything of this context lives in this one realm: enter it once instead of per call.
  outer_realm_ = JS::EnterRealm(cx_, global_);
  entered_realm_ = true;

  JS::RootedValue webassembly(cx_);
  module_constructor_.init(cx_);
  instance_constructor_.init(cx_);
  if (!get_property(cx_, global_, "WebAssembly", &webassembly)) {
    return Error{"this SpiderMonkey has no WebAssembly support"};
  }
  JS::RootedObject namespace_object(cx_, &webassembly.toObject());
  if (!get_property(cx_, namespace_object, "Module", &module_constructor_) ||
      !get_property(cx_, namespace_object, "Instance", &instance_constructor_)) {
    return Error{"WebAssembly.Module or WebAssembly.Instance is missing"};
  }
  return Ok{};
}

ThreadContext::~ThreadContext() {
  // Every persistent root must go before the context does.
  instance_constructor_.reset();
  module_constructor_.reset();
  global_.reset();
  if (entered_realm_) JS::LeaveRealm(cx_, outer_realm_);
  JS_DestroyContext(cx_);
}

std::string ThreadContext::take_exception() {
  if (!JS_IsExceptionPending(cx_)) return {};
  JS::RootedValue exception(cx_);
  bool have_exception = JS_GetPendingException(cx_, &exception);
  JS_ClearPendingException(cx_);
  if (!have_exception) return "unknown error";
  // For Error objects this is Error.prototype.toString: "Name: message".
  JS::RootedString text(cx_, JS::ToString(cx_, exception));
  if (!text) {
    JS_ClearPendingException(cx_);
    return "unknown error (exception not convertible to text)";
  }
  JS::UniqueChars utf8 = JS_EncodeStringToUTF8(cx_, text);
  if (!utf8) {
    JS_ClearPendingException(cx_);
    return "unknown error (out of memory)";
  }
  return utf8.get();
}

bool ThreadContext::on_interrupt(JSContext* cx) {
  auto* context = static_cast<ThreadContext*>(JS_GetContextPrivate(cx));
  if (!context) return true;
  for (InterruptScope* scope = context->innermost_scope_; scope; scope = scope->outer_) {
    // Returning false terminates the running code; no exception, so Wasm cannot catch it.
    if (scope->flag_.load(std::memory_order_acquire)) return false;
  }
  return true;  // SpiderMonkey also interrupts for its own reasons (GC): carry on
}

// GCC 12 mistakes the Rooted's registration on the context for a dangling pointer.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
bool property_key(JSContext* cx, std::string_view utf8, JS::MutableHandleId out) {
  JS::RootedString string(cx, JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(utf8.data(), utf8.size())));
  return string && JS_StringToId(cx, string, out);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace weir::wasm::sm
