#pragma once
// The JSContext of one thread. SpiderMonkey allows one context per thread (a second
// JS_NewContext on the same thread crashes, and Wasm trap handling finds the running
// context through a thread-local), so everything on a thread shares it: the engine's
// compiler on the main thread and every Runtime of that thread. It is destroyed, on its
// thread, when the last user lets go; users hold it in a shared_ptr, which makes any
// teardown order safe as long as each piece is destroyed on its own thread.
#include <jsapi.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "wasm/engine/spidermonkey_library.h"

namespace weir::wasm::sm {

class ThreadContext {
 public:
  // The calling thread's context, created on first use.
  static Result<std::shared_ptr<ThreadContext>> for_current_thread(
      const std::shared_ptr<Library>& library);

  ThreadContext(const ThreadContext&) = delete;
  ThreadContext& operator=(const ThreadContext&) = delete;
  ~ThreadContext();

  JSContext* cx() const { return cx_; }
  bool on_owner_thread() const { return std::this_thread::get_id() == owner_thread_; }

  JS::HandleValue module_constructor() const { return module_constructor_; }
  JS::HandleValue instance_constructor() const { return instance_constructor_; }

  // Removes the pending exception and returns it as text ("RuntimeError: unreachable
  // executed"); empty if none is pending (an uncatchable termination).
  std::string take_exception();

  // Whether Wasm code of some call is on the stack (we are inside a host function).
  bool inside_wasm_call() const { return innermost_scope_ != nullptr; }

  // While alive, the interrupt callback terminates the running Wasm code once `flag` is
  // set. Scopes nest (a host function may call into Wasm again); a set flag of any scope
  // on the stack terminates, since the whole stack has to unwind for the outer one anyway.
  class InterruptScope {
   public:
    InterruptScope(ThreadContext& context, const std::atomic<bool>& flag)
        : context_(context), flag_(flag), outer_(context.innermost_scope_) {
      context_.innermost_scope_ = this;
    }
    ~InterruptScope() { context_.innermost_scope_ = outer_; }
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

   private:
    friend class ThreadContext;
    ThreadContext& context_;
    const std::atomic<bool>& flag_;
    InterruptScope* outer_;
  };

 private:
  ThreadContext(std::shared_ptr<Library> library, JSContext* cx);
  Status initialize();
  static bool on_interrupt(JSContext* cx);

  std::shared_ptr<Library> library_;  // first: JS_ShutDown must wait for this context
  JSContext* cx_;
  std::thread::id owner_thread_;
  JS::Realm* outer_realm_ = nullptr;
  bool entered_realm_ = false;
  JS::PersistentRootedObject global_;
  JS::PersistentRootedValue module_constructor_;
  JS::PersistentRootedValue instance_constructor_;
  InterruptScope* innermost_scope_ = nullptr;
};

// The property key for a UTF-8 name (Wasm names are UTF-8 and may contain any character).
bool property_key(JSContext* cx, std::string_view utf8, JS::MutableHandleId out);

}  // namespace weir::wasm::sm
