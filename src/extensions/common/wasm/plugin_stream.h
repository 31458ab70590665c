#pragma once
// What the HTTP and the network Wasm filters share for one stream (a request, a TCP
// connection) through one plugin: the plugin's stream context, created on the stream's
// first callback; the plugin's failure policy; and stream actions deferred until the VM
// call that asked for them has returned. What failing closed means (a 503, closing the
// connection) is the filter's: fail_closed().
#include <memory>
#include <optional>
#include <utility>

#include "proxy_wasm/vm.h"

namespace weir::extensions::wasm {

class PluginStream {
 protected:
  // Unstarted until the first callback; Bypass: the plugin is skipped for this stream
  // (fail open, or a plugin that cannot serve); Failed: failed closed.
  enum class Mode { Unstarted, Active, Bypass, Failed };

  explicit PluginStream(std::shared_ptr<proxy_wasm::WorkerPlugin> plugin)
      : plugin_(std::move(plugin)) {}
  // The filter calls finish() in its own destructor, while the host it is still exists.
  virtual ~PluginStream() {
    if (alive_) *alive_ = false;
  }

  // Sets mode_ to Failed and ends the stream as this kind of stream fails closed.
  virtual void fail_closed() = 0;

  // Creates the stream context on the first callback. False: the plugin is not used for
  // this stream (bypassed, or failed closed).
  bool ensure_context(proxy_wasm::StreamHost* host) {
    if (mode_ == Mode::Active) return true;
    if (mode_ != Mode::Unstarted) return false;
    std::shared_ptr<proxy_wasm::Vm> vm;
    proxy_wasm::RootContext* root = nullptr;
    switch (plugin_->acquire(vm, root)) {
      case proxy_wasm::WorkerPlugin::Decision::Use:
        break;
      case proxy_wasm::WorkerPlugin::Decision::Skip:
        mode_ = Mode::Bypass;
        return false;
      case proxy_wasm::WorkerPlugin::Decision::FailClosed:
        fail_closed();
        return false;
    }
    ctx_.emplace(std::move(vm), root, host);
    mode_ = Mode::Active;
    if (!ctx_->create()) {
      on_failure();
      return false;
    }
    return true;
  }

  // The VM died in this stream's callback: the plugin's failure policy.
  void on_failure() {
    if (plugin_->failure_policy() == proxy_wasm::FailurePolicy::FailOpen) {
      mode_ = Mode::Bypass;
    } else {
      fail_closed();
    }
  }

  // A stream action asked for from outside this stream's callbacks (an http call answer,
  // another context): run once the VM call returns (see Vm::run_after_call), if this
  // stream still exists then.
  template <typename F>
  void after_vm_call(F&& action) {
    if (!alive_) alive_ = std::make_shared<bool>(true);  // only streams that need it pay
    ctx_->vm().run_after_call([alive = alive_, action = std::forward<F>(action)]() mutable {
      if (*alive) action();
    });
  }

  void finish() {
    if (ctx_) ctx_->finish();
  }

  std::shared_ptr<proxy_wasm::WorkerPlugin> plugin_;
  Mode mode_ = Mode::Unstarted;
  std::optional<proxy_wasm::StreamContext> ctx_;

 private:
  std::shared_ptr<bool> alive_;  // false once destroyed; for after_vm_call()
};

}  // namespace weir::extensions::wasm
