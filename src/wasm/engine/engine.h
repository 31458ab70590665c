#pragma once
// The Wasm engine interface. It knows WebAssembly only: modules, imports, exports,
// linear memory, traps, deadlines and memory caps. Nothing here knows Proxy-Wasm; the host
// layer (src/proxy_wasm) is written against this interface. Implemented on Wasmtime.
//
// Threading: an Engine is process-wide and thread-safe. CompiledModule and LinkedModule
// are immutable and shared by every thread. An Instance (with its own store: its deadline
// and memory cap) belongs to the thread that created it.
#include <chrono>
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
// trap that unwinds the Wasm call stack (e.g. WASI proc_exit). The message is behind a
// pointer so that the common case, a value, constructs and destroys nothing.
struct HostResult {
  Value value;
  std::unique_ptr<std::string> trap;  // why, when the call traps
  static HostResult of(Value v) {
    HostResult r;
    r.value = v;
    return r;
  }
  static HostResult i32(int32_t v) { return of(Value::from_i32(v)); }
  static HostResult none() { return HostResult{}; }
  static HostResult trap_with(std::string why) {
    HostResult r;
    r.trap = std::make_unique<std::string>(std::move(why));
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
  // Minimum size of the module's exported memory in 64 KiB pages (0 if it has none).
  virtual uint32_t initial_memory_pages() const = 0;
  // True when the machine code came from the code cache instead of the compiler.
  virtual bool from_code_cache() const = 0;
  bool exports_function(std::string_view name) const;
};

// What one instance may use: checked inside every call, not after it.
struct InstanceLimits {
  // Wall-clock time of one outermost call into Wasm (the start function and every call
  // from the host), host functions included. Past it the call stops with
  // CallResult::interrupted. 0: no deadline.
  std::chrono::milliseconds call_deadline{0};
  // Linear memory: memory.grow past it returns -1 inside the module, and a module that
  // asks for more at instantiation fails to instantiate. 0: no cap.
  uint64_t max_memory_bytes = 0;
};

class Instance;

// A module with its function imports bound to host functions, ready to be instantiated
// any number of times, on any thread, cheaply.
class LinkedModule {
 public:
  virtual ~LinkedModule() = default;
  virtual const CompiledModule& module() const = 0;
  // Makes an instance in a store of its own, with `host_data` attached (host functions see
  // it) and `limits` in force. Code in the module's start section runs here, under the
  // deadline; a trap or a stop there fails instantiation.
  virtual Result<std::unique_ptr<Instance>> instantiate(void* host_data,
                                                        const InstanceLimits& limits) const = 0;
};

// A pre-resolved exported function: look it up once, call it many times.
class ExportedFunction {
 public:
  virtual ~ExportedFunction() = default;
  virtual const FunctionType& type() const = 0;
};

// The outcome of calling into Wasm. On a trap (or a stop at the deadline) the instance's
// state is suspect: the host layer discards the instance.
struct CallResult {
  bool ok = true;
  bool interrupted = false;  // stopped at the call deadline
  std::string error;         // trap message when !ok
  std::string backtrace;     // the Wasm frames of a trap, innermost first ("" if none)
  Value value;               // the result, for functions that return one
};

class Instance {
 public:
  virtual ~Instance() = default;
  // nullptr if the module has no exported function of that name.
  virtual ExportedFunction* function(std::string_view name) = 0;
  virtual CallResult call(ExportedFunction& fn, std::span<const Value> args) = 0;
  // The host's hot path, for a function whose parameters and results are all i32/i64 (the
  // caller checks that once, with type()): no type checks and no strings per call.
  // `slots` (kMaxIntegerSlots entries) holds the arguments, i32 values zero- or
  // sign-extended to 64 bits; on return slots[0] is the result (an i32 sign-extended). On a
  // trap or a stop at the deadline returns false and fills `failure` (ok == false).
  static constexpr size_t kMaxIntegerSlots = 8;
  virtual bool call_integers(ExportedFunction& fn, int64_t* slots, CallResult& failure) = 0;
  // The exported linear memory as it is now. Valid until the next call into Wasm (which
  // may grow and move it): never keep it across calls. Empty if there is no memory.
  virtual std::span<uint8_t> memory() = 0;
  void* host_data() const { return host_data_; }

  // Size of the linear memory in 64 KiB pages (0 if there is none).
  uint32_t memory_pages() { return static_cast<uint32_t>(memory().size() / kWasmPageSize); }

 protected:
  void* host_data_ = nullptr;
};

struct EngineOptions {
  // Where compiled machine code is kept between runs, keyed by the module's sha256 and the
  // engine's version and settings. Empty: no cache.
  std::string code_cache_dir;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  virtual Result<std::shared_ptr<const CompiledModule>> compile(std::span<const uint8_t> bytes) = 0;
  // Binds every function import of `module` to the binding of the same module and name
  // (an import without one, or with another type, fails naming it).
  virtual Result<std::shared_ptr<const LinkedModule>> link(
      std::shared_ptr<const CompiledModule> module, const std::vector<HostBinding>& bindings) = 0;
};

// The process-wide Wasmtime engine (Cranelift), with its epoch ticker thread. Destroy it
// last, after every module and instance.
Result<std::unique_ptr<Engine>> create_wasmtime_engine(const EngineOptions& options = {});

}  // namespace weir::wasm
