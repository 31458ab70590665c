// Micro-benchmarks of the Wasm engine layer (Wasmtime): call costs across the Wasm
// boundary, memory views, instantiation, and compile time of a ~1 MB module cold and from
// the code cache. Needs wat2wasm (wabt) on PATH. Built by bench/CMakeLists.txt.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "wasm/engine/engine.h"

#ifndef WEIR_TEST_DATA_DIR
#define WEIR_TEST_DATA_DIR "tests/unit/testdata"
#endif

namespace weir::wasm {
namespace {

std::string temp_dir() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/weir_engine_bench_XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }();
  return dir;
}

std::vector<uint8_t> wat_file_to_wasm(const std::string& wat_path, const std::string& name) {
  std::string output = temp_dir() + "/" + name + ".wasm";
  std::string command = "wat2wasm '" + wat_path + "' -o '" + output + "'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error(command + " failed");
  std::ifstream file(output, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> testdata_module(const std::string& name) {
  return wat_file_to_wasm(std::string(WEIR_TEST_DATA_DIR) + "/wasm/" + name + ".wat", name);
}

// A module of about 1 MB of code: many functions of loads, stores, arithmetic, branches and
// calls (roughly what a C++ or Rust plugin compiles to), plus "add" and "fnv" to run.
std::vector<uint8_t> big_module() {
  // Left open: the generated functions and the closing parenthesis follow.
  std::string wat = R"wat((module
  (memory (export "memory") 2)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "fnv") (param $ptr i32) (param $len i32) (param $rounds i32) (result i32)
    (local $h i32) (local $p i32) (local $end i32)
    i32.const 2166136261 local.set $h
    local.get $ptr local.get $len i32.add local.set $end
    block $done
      loop $round
        local.get $rounds i32.eqz br_if $done
        local.get $ptr local.set $p
        block $bytes_done
          loop $byte
            local.get $p local.get $end i32.ge_u br_if $bytes_done
            local.get $h local.get $p i32.load8_u i32.xor i32.const 16777619 i32.mul
            local.set $h
            local.get $p i32.const 1 i32.add local.set $p
            br $byte
          end
        end
        local.get $rounds i32.const 1 i32.sub local.set $rounds
        br $round
      end
    end
    local.get $h)
)wat";
  constexpr int kFunctions = 1150;
  for (int f = 0; f < kFunctions; ++f) {
    wat += "  (func $f" + std::to_string(f) + " (export \"f" + std::to_string(f) +
           "\") (param $a i32) (param $b i32) (result i32)"
           " (local $x i32) (local $y i64)\n";
    for (int j = 0; j < 12; ++j) {
      std::string k = std::to_string(f * 31 + j);
      wat += "    local.get $a local.get $b i32.add i32.const " + k +
             " i32.mul local.set $x\n"
             "    local.get $x i32.const 65535 i32.and i32.load offset=16 local.get $a i32.xor"
             " local.set $x\n"
             "    local.get $y local.get $x i64.extend_i32_u i64.add i64.const " +
             k +
             " i64.rotl local.set $y\n"
             "    local.get $x i32.const 3 i32.rem_u if local.get $b i32.const 1 i32.add"
             " local.set $b else local.get $a i32.const 7 i32.shr_u local.set $a end\n"
             "    local.get $b i32.const 65532 i32.and local.get $x i32.store offset=8\n";
    }
    if (f > 0) {
      wat += "    local.get $x local.get $b call $f" + std::to_string(f - 1) + " drop\n";
    }
    wat += "    local.get $x local.get $y i32.wrap_i64 i32.add)\n";
  }
  wat += ")\n";
  std::string path = temp_dir() + "/big.wat";
  std::ofstream(path) << wat;
  return wat_file_to_wasm(path, "big");
}

const std::vector<uint8_t>& big_module_bytes() {
  static const std::vector<uint8_t> bytes = big_module();
  return bytes;
}

Engine& engine() {
  static std::unique_ptr<Engine> engine = [] {
    Result<std::unique_ptr<Engine>> created = create_wasmtime_engine();
    if (!created) throw std::runtime_error(created.error());
    return std::move(*created);
  }();
  return *engine;
}

std::shared_ptr<const CompiledModule> compile(const std::vector<uint8_t>& bytes) {
  Result<std::shared_ptr<const CompiledModule>> module = engine().compile(bytes);
  if (!module) throw std::runtime_error(module.error());
  return *module;
}

HostResult add_i32(HostCall& call) { return HostResult::i32(call.args[0].i32 + call.args[1].i32); }
HostResult add_i64(HostCall& call) {
  return HostResult::of(Value::from_i64(call.args[0].i64 + call.args[1].i64));
}
HostResult half_f64(HostCall& call) {
  return HostResult::of(Value::from_f64(call.args[0].f64 / 2));
}
HostResult note(HostCall&) { return HostResult::none(); }
HostResult fail(HostCall&) { return HostResult::trap_with("fail"); }

std::shared_ptr<const LinkedModule> link(std::shared_ptr<const CompiledModule> module) {
  using enum ValType;
  std::vector<HostBinding> bindings = {
      {"env", "add_i32", {{I32, I32}, {I32}}, add_i32},
      {"env", "add_i64", {{I64, I64}, {I64}}, add_i64},
      {"env", "half_f64", {{F64}, {F64}}, half_f64},
      {"env", "note", {{I32}, {}}, note},
      {"env", "fail", {{I32}, {I32}}, fail},
  };
  Result<std::shared_ptr<const LinkedModule>> linked = engine().link(std::move(module), bindings);
  if (!linked) throw std::runtime_error(linked.error());
  return *linked;
}

// As weir runs plugins: a deadline and a memory cap on every call.
std::unique_ptr<Instance> instantiate(const LinkedModule& linked) {
  InstanceLimits limits;
  limits.call_deadline = std::chrono::milliseconds(100);
  limits.max_memory_bytes = uint64_t{256} << 20;
  Result<std::unique_ptr<Instance>> instance = linked.instantiate(nullptr, limits);
  if (!instance) throw std::runtime_error(instance.error());
  return std::move(*instance);
}

struct HostCallsInstance {
  std::shared_ptr<const LinkedModule> linked;
  std::unique_ptr<Instance> instance;
};

HostCallsInstance& host_calls() {
  static HostCallsInstance loaded = [] {
    HostCallsInstance result;
    result.linked = link(compile(testdata_module("host_calls")));
    result.instance = instantiate(*result.linked);
    return result;
  }();
  return loaded;
}

void check(const CallResult& result, benchmark::State& state) {
  if (!result.ok) state.SkipWithError(result.error.c_str());
}

// --- the boundary ---------------------------------------------------------------------------

void BM_HostToWasm_Noop(benchmark::State& state) {
  Instance& instance = *host_calls().instance;
  ExportedFunction* noop = instance.function("noop");
  for (auto _ : state) check(instance.call(*noop, {}), state);
}
BENCHMARK(BM_HostToWasm_Noop);

void BM_HostToWasm_AddI32(benchmark::State& state) {
  Instance& instance = *host_calls().instance;
  ExportedFunction* add = instance.function("add");
  Value args[] = {Value::from_i32(1), Value::from_i32(2)};
  for (auto _ : state) {
    CallResult result = instance.call(*add, args);
    benchmark::DoNotOptimize(result.value.i32);
  }
}
BENCHMARK(BM_HostToWasm_AddI32);

// i64 both ways and across both boundaries: host -> wasm -> host.
void BM_HostToWasmToHost_I64(benchmark::State& state) {
  Instance& instance = *host_calls().instance;
  ExportedFunction* add = instance.function("call_add_i64");
  Value args[] = {Value::from_i64(int64_t{1} << 40), Value::from_i64(2)};
  for (auto _ : state) {
    CallResult result = instance.call(*add, args);
    benchmark::DoNotOptimize(result.value.i64);
  }
}
BENCHMARK(BM_HostToWasmToHost_I64);

void BM_WasmToHost_I32(benchmark::State& state) {
  Instance& instance = *host_calls().instance;
  ExportedFunction* loop = instance.function("note_loop");
  const int32_t calls = 10000;
  Value args[] = {Value::from_i32(calls)};
  for (auto _ : state) check(instance.call(*loop, args), state);
  state.counters["ns_per_host_call"] = benchmark::Counter(
      calls * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WasmToHost_I32);

// --- memory ---------------------------------------------------------------------------------

void BM_MemoryView(benchmark::State& state) {
  Instance& instance = *host_calls().instance;
  for (auto _ : state) benchmark::DoNotOptimize(instance.memory().data());
}
BENCHMARK(BM_MemoryView);

// --- instances ------------------------------------------------------------------------------

void BM_Instantiate(benchmark::State& state) {
  const LinkedModule& linked = *host_calls().linked;
  for (auto _ : state) benchmark::DoNotOptimize(instantiate(linked));
}
BENCHMARK(BM_Instantiate)->Unit(benchmark::kMicrosecond);

// --- compiling -------------------------------------------------------------------------------

// Wall time is what a config load waits (Cranelift compiles functions on several threads).
void BM_Compile1MB(benchmark::State& state) {
  const std::vector<uint8_t>& bytes = big_module_bytes();
  for (auto _ : state) benchmark::DoNotOptimize(compile(bytes));
  state.SetLabel(std::to_string(bytes.size() / 1024) + " KiB, no cache");
}
BENCHMARK(BM_Compile1MB)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The same module from the compiled-code cache: checked (sha256) and deserialized.
void BM_Compile1MB_FromCodeCache(benchmark::State& state) {
  const std::vector<uint8_t>& bytes = big_module_bytes();
  std::string dir = temp_dir() + "/code-cache";
  Result<std::unique_ptr<Engine>> cached_engine = create_wasmtime_engine({dir});
  if (!cached_engine) throw std::runtime_error(cached_engine.error());
  (void)(*cached_engine)->compile(bytes);  // fills the cache
  for (auto _ : state) {
    Result<std::shared_ptr<const CompiledModule>> module = (*cached_engine)->compile(bytes);
    if (!module || !(*module)->from_code_cache()) state.SkipWithError("not from the cache");
    benchmark::DoNotOptimize(module);
  }
}
BENCHMARK(BM_Compile1MB_FromCodeCache)->Unit(benchmark::kMillisecond)->UseRealTime();

// Compute speed of the compiled code.
void BM_BigModule_Fnv640KB(benchmark::State& state) {
  std::unique_ptr<Instance> instance = instantiate(*link(compile(big_module_bytes())));
  ExportedFunction* function = instance->function("fnv");
  std::vector<Value> args = {Value::from_i32(0), Value::from_i32(65536), Value::from_i32(10)};
  for (auto _ : state) check(instance->call(*function, args), state);
}
BENCHMARK(BM_BigModule_Fnv640KB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace weir::wasm
