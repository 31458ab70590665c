#pragma once
// The Wasm engine interface. It knows WebAssembly only: modules, imports, exports,
// linear memory, traps and interrupts. Nothing here knows Proxy-Wasm; the host layer
// (src/proxy_wasm) is written against this interface so another engine can be added.
//
// Threading: an Engine is process-wide and thread-safe. A CompiledModule is immutable
// and may be shared by every thread. A Runtime belongs to the thread that created it
// (SpiderMonkey: one JSContext per thread), and so do the Instances it creates; only
// Instance::request_interrupt() may be called from another thread.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::wasm {

enum class ValType : uint8_t { I32, I64, F32, F64 };

inline constexpr size_t kWasmPageSize = size_t{64} * 1024;

// A Wasm value. i32 travels as int32_t (reinterpret as uint32_t where the ABI says so).
struct Value {
  ValType type = ValType::I32;
  union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
  };
  Value() : i64(0) {}
  static Value from_i32(int32_t v) {
    Value x;
    x.type = ValType::I32;
    x.i32 = v;
    return x;
  }
  static Value from_i64(int64_t v) {
    Value x;
    x.type = ValType::I64;
    x.i64 = v;
    return x;
  }
  static Value from_f32(float v) {
    Value x;
    x.type = ValType::F32;
    x.f32 = v;
    return x;
  }
  static Value from_f64(double v) {
    Value x;
    x.type = ValType::F64;
    x.f64 = v;
    return x;
  }
};

struct FunctionType {
  std::vector<ValType> params;
  std::vector<ValType> results;  // Proxy-Wasm and WASI need at most one
};

// A function the module imports, with the type its import section declares.
struct FunctionImport {
  std::string module;
  std::string name;
  FunctionType type;
};

struct FunctionExport {
  std::string name;
  FunctionType type;
};

class Instance;

// What a host function sees of one call: its arguments, the instance calling it (for
// memory access) and the opaque pointer the host attached to that instance.
struct HostCall {
  Instance& instance;
  void* host_data;
  std::span<const Value> args;
};

// What a host function returns: a value (ignored for functions without a result), or a
// trap that unwinds the Wasm call stack (e.g. WASI proc_exit).
struct HostResult {
  Value value;
  bool trap = false;
  std::string trap_message;
  static HostResult of(Value v) {
    HostResult r;
    r.value = v;
    return r;
  }
  static HostResult i32(int32_t v) { return of(Value::from_i32(v)); }
  static HostResult none() { return HostResult{}; }
  static HostResult trap_with(std::string why) {
    HostResult r;
    r.trap = true;
    r.trap_message = std::move(why);
    return r;
  }
};

using HostFunction = HostResult (*)(HostCall& call);

// Binds one function import of a module to host code. `type` must be the type the import
// declares (the host layer copies it from CompiledModule::function_imports()).
struct HostBinding {
  std::string module;
  std::string name;
  FunctionType type;
  HostFunction function = nullptr;
};

class CompiledModule {
 public:
  virtual ~CompiledModule() = default;
  virtual const std::vector<FunctionImport>& function_imports() const = 0;
  virtual const std::vector<FunctionExport>& function_exports() const = 0;
  // Minimum size of the module's own memory in 64 KiB pages (0 if it has none).
  virtual uint32_t initial_memory_pages() const = 0;
  bool exports_function(std::string_view name) const;
};

// A pre-resolved exported function: look it up once, call it many times.
class ExportedFunction {
 public:
  virtual ~ExportedFunction() = default;
  virtual const FunctionType& type() const = 0;
};

// The outcome of calling into Wasm. On a trap (or an interrupt) the instance's state is
// suspect: the host layer discards the instance.
struct CallResult {
  bool ok = true;
  bool interrupted = false;  // stopped by request_interrupt()
  std::string error;         // trap message when !ok
  Value value;               // the result, for functions that return one
};

class Instance {
 public:
  virtual ~Instance() = default;
  // nullptr if the module has no exported function of that name.
  virtual ExportedFunction* function(std::string_view name) = 0;
  virtual CallResult call(ExportedFunction& fn, std::span<const Value> args) = 0;
  // The exported linear memory as it is now. Valid until the next call into Wasm (which
  // may grow and move it): never keep it across calls. Empty if there is no memory.
  virtual std::span<uint8_t> memory() = 0;
  // Thread-safe: makes the call running on the owning thread (if any) stop with
  // CallResult::interrupted. A request made while no call runs affects the next call.
  virtual void request_interrupt() = 0;
  void* host_data() const { return host_data_; }

  // Size of the linear memory in 64 KiB pages (0 if there is none).
  uint32_t memory_pages() { return static_cast<uint32_t>(memory().size() / kWasmPageSize); }
  // Memory-bomb guard. Once the memory has grown beyond `pages`, the running call fails at
  // its next host function call (as a trap) or when it returns, and so does every later
  // call (CallResult::error says why): discard the instance. 0 means no limit (default).
  void set_memory_limit_pages(uint32_t pages) { memory_limit_pages_ = pages; }
  uint32_t memory_limit_pages() const { return memory_limit_pages_; }

 protected:
  void* host_data_ = nullptr;
  uint32_t memory_limit_pages_ = 0;
};

// Per-thread engine state. Destroy its Instances before it, on its thread.
class Runtime {
 public:
  virtual ~Runtime() = default;
  // Instantiates `module`, binding every function import from `bindings` (an import
  // without a binding fails instantiation with a message naming it). Code in the
  // module's start section runs here, so host functions may be called during it, with
  // `host_data` already attached.
  virtual Result<std::unique_ptr<Instance>> instantiate(const CompiledModule& module,
                                                        const std::vector<HostBinding>& bindings,
                                                        void* host_data) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  virtual Result<std::shared_ptr<const CompiledModule>> compile(std::span<const uint8_t> bytes) = 0;
  // Creates the calling thread's runtime. Destroy it on the same thread, before the
  // Engine.
  virtual Result<std::unique_ptr<Runtime>> create_runtime() = 0;
};

// The process-wide SpiderMonkey engine. Create once (from the main thread) and destroy
// last, after every Runtime. SpiderMonkey cannot be initialized twice: once the last Engine
// (and every Runtime, Instance and CompiledModule) is gone, this fails for good.
Result<std::unique_ptr<Engine>> create_spidermonkey_engine();

}  // namespace weir::wasm
