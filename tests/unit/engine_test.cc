// Tests of the Wasm engine (src/wasm/engine, on Wasmtime) through its public interface,
// and of the compiled-code cache. Test modules are .wat files in testdata/wasm, converted
// with the wat2wasm binary (wabt) when a test first needs them.
#include "wasm/engine/engine.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wasm/engine/code_cache.h"
#include "wasm/engine/epoch_ticker.h"

#ifndef WEIR_TEST_DATA_DIR
#define WEIR_TEST_DATA_DIR "tests/unit/testdata"
#endif

namespace weir::wasm {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// One engine for the whole binary (without a code cache: every test compiles).
Engine& engine() {
  static std::unique_ptr<Engine> engine = [] {
    Result<std::unique_ptr<Engine>> created = create_wasmtime_engine();
    if (!created) throw std::runtime_error(created.error());
    return std::move(*created);
  }();
  return *engine;
}

std::string temp_dir() {
  static const std::string dir = [] {
    std::string pattern = ::testing::TempDir() + "weir_engine_test_XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }();
  return dir;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// testdata/wasm/<name>.wat as a binary. `flags` go to wat2wasm (e.g. "--no-check").
std::vector<uint8_t> wasm_bytes(const std::string& name, const std::string& flags = "") {
  static std::map<std::string, std::vector<uint8_t>> converted;
  std::string key = name + " " + flags;
  if (auto it = converted.find(key); it != converted.end()) return it->second;
  std::string source = std::string(WEIR_TEST_DATA_DIR) + "/wasm/" + name + ".wat";
  std::string output = temp_dir() + "/" + name + ".wasm";
  std::string command = "wat2wasm " + flags + " '" + source + "' -o '" + output + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run wat2wasm");
  std::string messages;
  char buffer[256];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) messages.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error(command + " failed: " + messages);
  return converted[key] = read_bytes(output);
}

std::shared_ptr<const CompiledModule> compile(const std::string& name, std::string flags = "") {
  if (name == "traps") flags += " --debug-names";  // function names for backtraces
  Result<std::shared_ptr<const CompiledModule>> module = engine().compile(wasm_bytes(name, flags));
  if (!module) throw std::runtime_error("compiling " + name + ": " + module.error());
  return *module;
}

FunctionType fn(std::vector<ValType> params, std::vector<ValType> results) {
  return FunctionType{std::move(params), std::move(results)};
}

// What host functions see and record; attached to instances as host_data.
struct HostState {
  std::vector<int32_t> notes;
  std::string trap_message = "proc_exit(3)";
  // For host functions that call back into Wasm.
  ExportedFunction* alloc = nullptr;
  uint32_t pages_seen = 0;
  uint8_t last_byte_seen = 0;
  std::string logged;
};

HostState& state(HostCall& call) { return *static_cast<HostState*>(call.host_data); }

HostResult add_i32(HostCall& call) {
  return HostResult::i32(call.args[0].i32 + call.args[1].i32 + 1);
}
HostResult add_i64(HostCall& call) {
  return HostResult::of(Value::from_i64(call.args[0].i64 + call.args[1].i64 + 1));
}
HostResult half_f64(HostCall& call) {
  return HostResult::of(Value::from_f64(call.args[0].f64 / 2));
}
HostResult note(HostCall& call) {
  state(call).notes.push_back(call.args[0].i32);
  return HostResult::none();
}
HostResult fail(HostCall& call) { return HostResult::trap_with(state(call).trap_message); }
HostResult throw_exception(HostCall&) { throw std::runtime_error("boom"); }

std::vector<HostBinding> host_call_bindings(HostFunction fail_function = fail) {
  using enum ValType;
  return {
      {"env", "add_i32", fn({I32, I32}, {I32}), add_i32},
      {"env", "add_i64", fn({I64, I64}, {I64}), add_i64},
      {"env", "half_f64", fn({F64}, {F64}), half_f64},
      {"env", "note", fn({I32}, {}), note},
      {"env", "fail", fn({I32}, {I32}), fail_function},
  };
}

std::shared_ptr<const LinkedModule> link(std::shared_ptr<const CompiledModule> module,
                                         const std::vector<HostBinding>& bindings) {
  Result<std::shared_ptr<const LinkedModule>> linked = engine().link(std::move(module), bindings);
  if (!linked) throw std::runtime_error("link: " + linked.error());
  return *linked;
}

Result<std::unique_ptr<Instance>> try_instantiate(std::shared_ptr<const CompiledModule> module,
                                                  const std::vector<HostBinding>& bindings,
                                                  void* host_data, InstanceLimits limits = {}) {
  Result<std::shared_ptr<const LinkedModule>> linked = engine().link(std::move(module), bindings);
  if (!linked) return Error{"link: " + linked.error()};
  return (*linked)->instantiate(host_data, limits);
}

// Helpers to instantiate and call, with host functions that record into host_.
class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Instance> instantiate(std::shared_ptr<const CompiledModule> module,
                                        const std::vector<HostBinding>& bindings = {},
                                        InstanceLimits limits = {}) {
    Result<std::unique_ptr<Instance>> instance =
        try_instantiate(std::move(module), bindings, &host_, limits);
    if (!instance) throw std::runtime_error("instantiate: " + instance.error());
    return std::move(*instance);
  }

  static CallResult call(Instance& instance, std::string_view name, std::vector<Value> args = {}) {
    ExportedFunction* function = instance.function(name);
    if (!function) throw std::runtime_error("no export " + std::string(name));
    return instance.call(*function, args);
  }

  HostState host_;
};

// --- compiling and reading modules ---------------------------------------------------------

TEST_F(EngineTest, CompileErrorCarriesTheValidatorsMessage) {
  const uint8_t garbage[] = {'n', 'o', 't', ' ', 'w', 'a', 's', 'm'};
  Result<std::shared_ptr<const CompiledModule>> bad_magic = engine().compile(garbage);
  ASSERT_FALSE(bad_magic.ok());
  EXPECT_NE(bad_magic.error().find("magic header"), std::string::npos) << bad_magic.error();

  Result<std::shared_ptr<const CompiledModule>> invalid =
      engine().compile(wasm_bytes("invalid", "--no-check"));
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().find("type mismatch"), std::string::npos) << invalid.error();
  EXPECT_EQ(invalid.error().find('\n'), std::string::npos) << "one line: " << invalid.error();

  EXPECT_FALSE(engine().compile({}).ok());
}

TEST_F(EngineTest, ReadsDeclaredImportAndExportTypes) {
  using enum ValType;
  std::shared_ptr<const CompiledModule> module = compile("types");
  const std::vector<FunctionImport>& imports = module->function_imports();
  ASSERT_EQ(imports.size(), 5u);
  auto expect_import = [&](size_t i, const char* module_name, const char* name,
                           const FunctionType& type) {
    SCOPED_TRACE(name);
    EXPECT_EQ(imports[i].module, module_name);
    EXPECT_EQ(imports[i].name, name);
    EXPECT_EQ(imports[i].type.params, type.params);
    EXPECT_EQ(imports[i].type.results, type.results);
  };
  expect_import(0, "env", "proxy_continue_request", fn({}, {I32}));
  expect_import(1, "env", "proxy_continue_stream", fn({}, {}));
  expect_import(2, "env", "proxy_increment_metric", fn({I32, I64}, {I32}));
  expect_import(3, "wasi_snapshot_preview1", "clock_time_get", fn({I32, I64, I32}, {I32}));
  expect_import(4, "env", "scale", fn({F64, F32}, {F64}));

  const std::vector<FunctionExport>& exports = module->function_exports();
  ASSERT_EQ(exports.size(), 4u);
  auto expect_export = [&](size_t i, const char* name, const FunctionType& type) {
    SCOPED_TRACE(name);
    EXPECT_EQ(exports[i].name, name);
    EXPECT_EQ(exports[i].type.params, type.params);
    EXPECT_EQ(exports[i].type.results, type.results);
  };
  expect_export(0, "proxy_on_context_create", fn({I32, I32}, {}));
  expect_export(1, "proxy_on_request_headers", fn({I32, I32, I32}, {I32}));
  expect_export(2, "wide", fn({I64, F64}, {I64}));
  expect_export(3, "reexported_clock", fn({I32, I64, I32}, {I32}));

  EXPECT_EQ(module->initial_memory_pages(), 3u);
  EXPECT_TRUE(module->exports_function("proxy_on_request_headers"));
  EXPECT_FALSE(module->exports_function("memory"));
  EXPECT_FALSE(module->exports_function("proxy_on_tick"));
}

TEST_F(EngineTest, ModuleImportingItsMemoryIsRejected) {
  Result<std::shared_ptr<const CompiledModule>> module =
      engine().compile(wasm_bytes("imports_memory"));
  ASSERT_FALSE(module.ok());
  EXPECT_NE(module.error().find("imports its memory (env.memory)"), std::string::npos)
      << module.error();
}

// The C API aborts the process when asked the kind of a v128 (or GC reference) type, so
// the engine must never ask: a hostile module would take weir down.
TEST_F(EngineTest, VectorTypesAreLeftOutOrRefusedNotFatal) {
  std::shared_ptr<const CompiledModule> module = compile("simd_types");
  ASSERT_EQ(module->function_exports().size(), 1u);
  EXPECT_EQ(module->function_exports()[0].name, "add");
  std::unique_ptr<Instance> instance = instantiate(module);
  EXPECT_EQ(instance->function("splat"), nullptr);

  Result<std::shared_ptr<const CompiledModule>> importing =
      engine().compile(wasm_bytes("simd_import"));
  ASSERT_FALSE(importing.ok());
  EXPECT_NE(importing.error().find("env.take_vector"), std::string::npos) << importing.error();
}

// --- instantiating ---------------------------------------------------------------------------

TEST_F(EngineTest, MissingOrMistypedBindingFailsNamingTheImport) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::vector<HostBinding> bindings = host_call_bindings();
  bindings.erase(bindings.begin() + 1);  // env.add_i64
  Result<std::shared_ptr<const LinkedModule>> missing = engine().link(module, bindings);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("env.add_i64"), std::string::npos) << missing.error();

  bindings = host_call_bindings();
  bindings[3].type.results = {ValType::I32};  // env.note returns nothing
  Result<std::shared_ptr<const LinkedModule>> mistyped = engine().link(module, bindings);
  ASSERT_FALSE(mistyped.ok());
  EXPECT_NE(mistyped.error().find("env.note"), std::string::npos) << mistyped.error();
}

HostResult log_from_memory(HostCall& call) {
  std::span<uint8_t> memory = call.instance.memory();
  auto pointer = static_cast<uint32_t>(call.args[0].i32);
  auto length = static_cast<uint32_t>(call.args[1].i32);
  if (uint64_t{pointer} + length > memory.size()) return HostResult::trap_with("bad pointer");
  state(call).logged.assign(reinterpret_cast<const char*>(memory.data()) + pointer, length);
  return HostResult::none();
}

std::vector<HostBinding> start_bindings(HostFunction note_function = note) {
  using enum ValType;
  return {{"env", "note", fn({I32}, {}), note_function},
          {"env", "log", fn({I32, I32}, {}), log_from_memory}};
}

TEST_F(EngineTest, StartFunctionCallsHostWithHostDataAndMemory) {
  std::shared_ptr<const CompiledModule> module = compile("start");
  std::unique_ptr<Instance> instance = instantiate(module, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{42});
  EXPECT_EQ(host_.logged, "from start");
  EXPECT_EQ(instance->host_data(), &host_);

  EXPECT_EQ(module->function_exports().size(), 1u);
  CallResult answer = call(*instance, "get_answer");
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_EQ(answer.value.i32, 42);
}

TEST_F(EngineTest, StartFunctionTrapFailsInstantiation) {
  std::shared_ptr<const CompiledModule> module = compile("start");
  host_.trap_message = "no starting today";
  Result<std::unique_ptr<Instance>> instance =
      try_instantiate(module, start_bindings(fail), &host_);
  ASSERT_FALSE(instance.ok());
  EXPECT_TRUE(instance.error().starts_with("no starting today (wasm backtrace: #0 "))
      << instance.error();
}

TEST_F(EngineTest, StartFunctionOfModulesWithoutOrWithClashingExports) {
  std::shared_ptr<const CompiledModule> bare = compile("start_no_exports");
  std::unique_ptr<Instance> first = instantiate(bare, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{7});

  host_.notes.clear();
  std::shared_ptr<const CompiledModule> clash = compile("start_name_clash");
  std::unique_ptr<Instance> second = instantiate(clash, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{1});
  ASSERT_TRUE(call(*second, "weir.start").ok);  // the module's own export of that name
  EXPECT_EQ(host_.notes, (std::vector<int32_t>{1, 2}));
}

HostResult note_plus_10(HostCall& call) {
  state(call).notes.push_back(call.args[0].i32 + 10);
  return HostResult::none();
}

TEST_F(EngineTest, ImportAndExportNamesAreBytes) {
  using enum ValType;
  std::shared_ptr<const CompiledModule> module = compile("odd_names");
  std::unique_ptr<Instance> instance =
      instantiate(module, {{"__proto__", "f", fn({I32}, {}), note},
                           {"env", "toString", fn({I32}, {}), note},
                           {"env", "hasOwnProperty", fn({I32}, {}), note},
                           {"ünïcødé", "😀", fn({I32}, {}), note},
                           {"env", "nul", fn({I32}, {}), note_plus_10}});
  ASSERT_TRUE(call(*instance, "__proto__").ok);
  EXPECT_EQ(host_.notes, (std::vector<int32_t>{1, 2, 3, 4, 15}));
  ASSERT_TRUE(call(*instance, "ëxport").ok);
  EXPECT_EQ(host_.notes.back(), 16);
}

// --- calls across the boundary ------------------------------------------------------------

TEST_F(EngineTest, HostFunctionsPassI32I64AndF64BothWays) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(module, host_call_bindings());

  CallResult i32 = call(*instance, "call_add_i32", {Value::from_i32(-5), Value::from_i32(40)});
  ASSERT_TRUE(i32.ok) << i32.error;
  EXPECT_EQ(i32.value.i32, 36);

  // Beyond 2^53 on purpose: must never travel as a double.
  int64_t big = (int64_t{1} << 60) + 3;
  CallResult i64 = call(*instance, "call_add_i64", {Value::from_i64(big), Value::from_i64(-7)});
  ASSERT_TRUE(i64.ok) << i64.error;
  EXPECT_EQ(i64.value.type, ValType::I64);
  EXPECT_EQ(i64.value.i64, big - 7 + 1);

  CallResult f64 = call(*instance, "call_half_f64", {Value::from_f64(5.0)});
  ASSERT_TRUE(f64.ok) << f64.error;
  EXPECT_DOUBLE_EQ(f64.value.f64, 2.5);

  CallResult unsigned_i32 =
      call(*instance, "add", {Value::from_i32(INT32_MAX), Value::from_i32(1)});
  ASSERT_TRUE(unsigned_i32.ok);
  EXPECT_EQ(static_cast<uint32_t>(unsigned_i32.value.i32), 0x80000000u);

  CallResult loop = call(*instance, "note_loop", {Value::from_i32(3)});
  ASSERT_TRUE(loop.ok) << loop.error;
  EXPECT_EQ(host_.notes, (std::vector<int32_t>{0, 1, 2}));
}

TEST_F(EngineTest, ExportedFunctionIsResolvedOnceAndChecksArguments) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(module, host_call_bindings());
  ExportedFunction* add = instance->function("add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(instance->function("add"), add);
  EXPECT_EQ(instance->function("no_such_export"), nullptr);
  EXPECT_EQ(instance->function("memory"), nullptr);
  EXPECT_EQ(add->type().params.size(), 2u);
  CallResult wrong = instance->call(*add, std::vector<Value>{Value::from_i32(1)});
  EXPECT_FALSE(wrong.ok);
}

// --- traps -----------------------------------------------------------------------------------

TEST_F(EngineTest, WasmTrapsFailTheCallWithAMessageAndTheHostCarriesOn) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(module);

  CallResult unreachable = call(*instance, "unreachable");
  EXPECT_FALSE(unreachable.ok);
  EXPECT_FALSE(unreachable.interrupted);
  EXPECT_EQ(unreachable.error, "wasm trap: unreachable executed");
  // The frames, with names from the name section.
  EXPECT_TRUE(unreachable.backtrace.starts_with("#0 unreachable (func 0 @0x"))
      << unreachable.backtrace;

  CallResult out_of_bounds = call(*instance, "out_of_bounds");
  EXPECT_FALSE(out_of_bounds.ok);
  EXPECT_EQ(out_of_bounds.error, "wasm trap: out-of-bounds memory access");

  CallResult divide = call(*instance, "divide", {Value::from_i32(1), Value::from_i32(0)});
  EXPECT_FALSE(divide.ok);
  EXPECT_EQ(divide.error, "wasm trap: integer division by zero");

  CallResult recurse = call(*instance, "recurse", {Value::from_i32(0)});
  EXPECT_FALSE(recurse.ok);
  EXPECT_EQ(recurse.error, "wasm trap: call stack exhausted");
  EXPECT_NE(recurse.backtrace.find("recurse"), std::string::npos) << recurse.backtrace;
  EXPECT_LT(recurse.backtrace.size(), 4096u) << "the frames are capped";

  CallResult add = call(*instance, "add", {Value::from_i32(40), Value::from_i32(2)});
  ASSERT_TRUE(add.ok) << add.error;
  EXPECT_EQ(add.value.i32, 42);
}

TEST_F(EngineTest, HostFunctionTrapUnwindsWasmWithItsMessage) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(module, host_call_bindings());
  CallResult trapped = call(*instance, "call_fail", {Value::from_i32(3)});
  EXPECT_FALSE(trapped.ok);
  EXPECT_FALSE(trapped.interrupted);
  EXPECT_EQ(trapped.error, "proc_exit(3)");
  EXPECT_TRUE(host_.notes.empty()) << "Wasm code after the trapping call ran";

  CallResult after = call(*instance, "call_add_i32", {Value::from_i32(1), Value::from_i32(2)});
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.value.i32, 4);
}

TEST_F(EngineTest, HostFunctionTrapCannotBeCaughtByWasm) {
  // The legacy exception-handling instructions wat2wasm writes (try/catch_all): Wasmtime
  // rejects them. Should it ever accept them, a host trap must still not be caught.
  Result<std::shared_ptr<const CompiledModule>> module =
      engine().compile(wasm_bytes("catch", "--enable-exceptions"));
  if (!module) {
    EXPECT_NE(module.error().find("exceptions"), std::string::npos) << module.error();
    return;
  }
  std::unique_ptr<Instance> instance =
      instantiate(*module, {{"env", "fail", fn({ValType::I32}, {ValType::I32}), fail}});
  CallResult result = call(*instance, "catch_host_trap");
  EXPECT_FALSE(result.ok) << "caught, returned " << result.value.i32;
  EXPECT_EQ(result.error, "proc_exit(3)");
}

TEST_F(EngineTest, CppExceptionInHostFunctionBecomesATrap) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(module, host_call_bindings(throw_exception));
  CallResult result = call(*instance, "call_fail", {Value::from_i32(0)});
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("env.fail threw: boom"), std::string::npos) << result.error;
}

// --- memory ----------------------------------------------------------------------------------

HostResult inspect_memory(HostCall& call) {
  std::span<uint8_t> memory = call.instance.memory();
  state(call).pages_seen = static_cast<uint32_t>(memory.size() / kWasmPageSize);
  state(call).last_byte_seen = memory.empty() ? 0 : memory.back();
  memory.back() = 9;  // the newest page must be writable from here
  return HostResult::i32(0);
}

// Proxy-Wasm style: allocate in the plugin (which grows its memory) from inside a host
// call, then write the data through a fresh view.
HostResult fill_new_block(HostCall& call) {
  int32_t size = call.args[0].i32;
  CallResult block = call.instance.call(*state(call).alloc, std::vector<Value>{call.args[0]});
  if (!block.ok) return HostResult::trap_with("alloc failed: " + block.error);
  std::span<uint8_t> memory = call.instance.memory();
  uint32_t pointer = static_cast<uint32_t>(block.value.i32);
  if (pointer + static_cast<uint64_t>(size) > memory.size()) {
    return HostResult::trap_with("stale memory view");
  }
  std::memset(memory.data() + pointer, 1, size);
  return HostResult::i32(block.value.i32);
}

std::vector<HostBinding> memory_bindings() {
  using enum ValType;
  return {{"env", "inspect", fn({I32}, {I32}), inspect_memory},
          {"env", "fill_new_block", fn({I32}, {I32}), fill_new_block}};
}

TEST_F(EngineTest, MemoryViewReadsAndWritesWasmMemory) {
  std::shared_ptr<const CompiledModule> module = compile("memory");
  std::unique_ptr<Instance> instance = instantiate(module, memory_bindings());
  std::span<uint8_t> memory = instance->memory();
  ASSERT_EQ(memory.size(), kWasmPageSize);
  EXPECT_EQ(instance->memory_pages(), 1u);
  for (int i = 0; i < 100; ++i) memory[2000 + i] = static_cast<uint8_t>(i);
  CallResult sum = call(*instance, "sum_bytes", {Value::from_i32(2000), Value::from_i32(100)});
  ASSERT_TRUE(sum.ok) << sum.error;
  EXPECT_EQ(sum.value.i32, 99 * 100 / 2);

  ASSERT_TRUE(call(*instance, "store_u8", {Value::from_i32(3000), Value::from_i32(77)}).ok);
  EXPECT_EQ(instance->memory()[3000], 77);
}

TEST_F(EngineTest, MemoryViewFollowsGrowthInsideWasm) {
  std::shared_ptr<const CompiledModule> module = compile("memory");
  std::unique_ptr<Instance> instance = instantiate(module, memory_bindings());
  ASSERT_EQ(instance->memory().size(), kWasmPageSize);

  // Grown by the plugin's own allocator, as malloc does.
  CallResult block = call(*instance, "alloc", {Value::from_i32(3 * kWasmPageSize)});
  ASSERT_TRUE(block.ok) << block.error;
  std::span<uint8_t> memory = instance->memory();
  EXPECT_EQ(memory.size(), 4 * kWasmPageSize);
  memory.back() = 5;
  CallResult last = call(*instance, "load_u8", {Value::from_i32(4 * kWasmPageSize - 1)});
  EXPECT_EQ(last.value.i32, 5);

  // Grown by Wasm, then looked at by a host function during the same call.
  CallResult inspected = call(*instance, "grow_then_inspect", {Value::from_i32(2)});
  ASSERT_TRUE(inspected.ok) << inspected.error;
  EXPECT_EQ(host_.pages_seen, 6u);
  EXPECT_EQ(host_.last_byte_seen, 7);
  EXPECT_EQ(instance->memory().back(), 9);
  EXPECT_EQ(instance->memory_pages(), 6u);
}

TEST_F(EngineTest, MemoryViewFollowsGrowthCausedFromAHostCall) {
  std::shared_ptr<const CompiledModule> module = compile("memory");
  std::unique_ptr<Instance> instance = instantiate(module, memory_bindings());
  host_.alloc = instance->function("alloc");
  const int32_t size = 5 * kWasmPageSize;  // forces alloc to grow memory
  CallResult sum = call(*instance, "host_fills", {Value::from_i32(size)});
  ASSERT_TRUE(sum.ok) << sum.error;
  EXPECT_EQ(sum.value.i32, size);
  EXPECT_GE(instance->memory_pages(), 6u);
}

InstanceLimits memory_cap(uint32_t pages) {
  InstanceLimits limits;
  limits.max_memory_bytes = uint64_t{pages} * kWasmPageSize;
  return limits;
}

// The cap holds inside the call: memory.grow past it answers -1 to the module, which may
// carry on, and the memory never gets bigger than the cap, not even for a moment.
TEST_F(EngineTest, MemoryGrowPastTheCapFailsInsideTheCall) {
  std::shared_ptr<const CompiledModule> module = compile("memory");
  std::unique_ptr<Instance> instance = instantiate(module, memory_bindings(), memory_cap(4));
  CallResult to_cap = call(*instance, "grow", {Value::from_i32(3)});  // 1 + 3: at the cap
  ASSERT_TRUE(to_cap.ok) << to_cap.error;
  EXPECT_EQ(to_cap.value.i32, 1);  // the old size

  CallResult past = call(*instance, "grow", {Value::from_i32(1)});
  ASSERT_TRUE(past.ok) << past.error;
  EXPECT_EQ(past.value.i32, -1);
  EXPECT_EQ(instance->memory_pages(), 4u);

  // Grown inside a call that then looks from the host: the host sees the cap, no more.
  CallResult inspected = call(*instance, "grow_then_inspect", {Value::from_i32(1)});
  ASSERT_TRUE(inspected.ok) << inspected.error;
  EXPECT_EQ(host_.pages_seen, 4u);

  // The instance is fine: calls go on, and growing within the cap would work.
  CallResult pages = call(*instance, "pages");
  ASSERT_TRUE(pages.ok) << pages.error;
  EXPECT_EQ(pages.value.i32, 4);

  // A plugin's allocator that cannot grow traps itself (the test module's does).
  CallResult block = call(*instance, "alloc", {Value::from_i32(5 * kWasmPageSize)});
  EXPECT_FALSE(block.ok);
  EXPECT_EQ(block.error, "wasm trap: unreachable executed");
  EXPECT_EQ(instance->memory_pages(), 4u);
}

TEST_F(EngineTest, ModuleAskingForMoreThanTheCapFailsToInstantiate) {
  std::shared_ptr<const CompiledModule> module = compile("types");  // 3 pages to start
  Result<std::unique_ptr<Instance>> instance = try_instantiate(
      module,
      {{"env", "proxy_continue_request", fn({}, {ValType::I32}), add_i32},
       {"env", "proxy_continue_stream", fn({}, {}), note},
       {"env", "proxy_increment_metric", fn({ValType::I32, ValType::I64}, {ValType::I32}), add_i32},
       {"wasi_snapshot_preview1", "clock_time_get",
        fn({ValType::I32, ValType::I64, ValType::I32}, {ValType::I32}), add_i32},
       {"env", "scale", fn({ValType::F64, ValType::F32}, {ValType::F64}), half_f64}},
      &host_, memory_cap(2));
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().find("memory"), std::string::npos) << instance.error();
}

// --- deadlines -------------------------------------------------------------------------------

InstanceLimits deadline(milliseconds ms) {
  InstanceLimits limits;
  limits.call_deadline = ms;
  return limits;
}

milliseconds since(steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

TEST_F(EngineTest, DeadlineStopsAnInfiniteLoop) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(module, {}, deadline(milliseconds(100)));
  auto start = steady_clock::now();
  CallResult result = call(*instance, "spin");
  milliseconds elapsed = since(start);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.error, "stopped after exceeding the call deadline of 100 ms");
  EXPECT_NE(result.backtrace.find("spin"), std::string::npos) << result.backtrace;
  EXPECT_GE(elapsed, milliseconds(100));  // never early
  EXPECT_LE(elapsed, milliseconds(200));  // within twice the deadline

  // Every call gets the whole deadline again.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(60));  // time passes between calls: the point
    CallResult add = call(*instance, "add", {Value::from_i32(1), Value::from_i32(2)});
    ASSERT_TRUE(add.ok) << add.error;
  }
}

// Under the epoch's usual period (10 ms), a deadline shortens the period to keep within
// twice itself. (The arithmetic is checked exactly below: at this scale, wall-clock bounds
// on a loaded machine measure the scheduler more than the engine.)
TEST_F(EngineTest, ShortDeadlinesAreKeptToo) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(module, {}, deadline(milliseconds(20)));
  auto start = steady_clock::now();
  CallResult result = call(*instance, "spin");
  EXPECT_TRUE(result.interrupted);
  EXPECT_GE(since(start), milliseconds(20));
}

TEST(EpochTicker, PeriodFitsTheShortestDeadlineAndTicksNeverStopEarly) {
  std::atomic<int> ticks{0};
  EpochTicker ticker([&] { ++ticks; }, milliseconds(10));
  EXPECT_EQ(ticker.period(), milliseconds(10));
  // A call is stopped after (ticks - 1) to ticks periods: never before its deadline, and
  // within deadline + 2 periods.
  EXPECT_EQ(ticker.ticks_for(milliseconds(100)), 11u);
  EXPECT_EQ(ticker.ticks_for(milliseconds(95)), 11u);
  ticker.fit(milliseconds(100));  // 10 ms is already short enough
  EXPECT_EQ(ticker.period(), milliseconds(10));
  ticker.fit(milliseconds(20));
  EXPECT_EQ(ticker.period(), milliseconds(5));
  EXPECT_EQ(ticker.ticks_for(milliseconds(20)), 5u);  // 20..25 ms
  ticker.fit(milliseconds(40));                       // never lengthened again
  EXPECT_EQ(ticker.period(), milliseconds(5));
  ticker.fit(milliseconds(1));
  EXPECT_EQ(ticker.period(), milliseconds(1));
  EXPECT_EQ(ticker.ticks_for(milliseconds(1)), 2u);  // 1..2 ms
  auto start = steady_clock::now();
  while (ticks.load() < 5 && since(start) < milliseconds(5000)) std::this_thread::yield();
  EXPECT_GE(ticks.load(), 5);
}

TEST(EpochTicker, NoThreadTicksUntilTheFirstDeadline) {
  std::atomic<int> ticks{0};
  EpochTicker ticker([&] { ++ticks; }, milliseconds(1));
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(ticks.load(), 0);  // a proxy without plugins is never woken by it
  ticker.fit(milliseconds(4));
  auto start = steady_clock::now();
  while (ticks.load() < 3 && since(start) < milliseconds(5000)) std::this_thread::yield();
  EXPECT_GE(ticks.load(), 3);
}

TEST_F(EngineTest, NoDeadlineMeansNone) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(module, host_call_bindings());
  std::this_thread::sleep_for(milliseconds(50));  // epochs pass
  CallResult loop = call(*instance, "note_loop", {Value::from_i32(3)});
  ASSERT_TRUE(loop.ok) << loop.error;
}

HostResult spin_in_host_then_note(HostCall& call) {
  // Time spent in the host counts against the deadline too: Wasm stops at its next check.
  std::this_thread::sleep_for(milliseconds(150));
  state(call).notes.push_back(call.args[0].i32);
  return HostResult::none();
}

TEST_F(EngineTest, TimeInHostFunctionsCountsAgainstTheDeadline) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::vector<HostBinding> bindings = host_call_bindings();
  bindings[3].function = spin_in_host_then_note;
  std::unique_ptr<Instance> instance = instantiate(module, bindings, deadline(milliseconds(100)));
  CallResult loop = call(*instance, "note_loop", {Value::from_i32(10)});
  EXPECT_TRUE(loop.interrupted);
  EXPECT_EQ(host_.notes.size(), 1u);
}

struct NestedState {
  ExportedFunction* spin = nullptr;
  CallResult inner;
};

HostResult call_back_into_spin(HostCall& call) {
  auto& nested = *static_cast<NestedState*>(call.host_data);
  nested.inner = call.instance.call(*nested.spin, {});
  return HostResult::none();  // carries on as if nothing happened: the outer loop runs
}

// The deadline stops the whole stack, even when the host function in the middle swallows
// the inner call's failure and lets the outer Wasm code continue.
TEST_F(EngineTest, DeadlineStopsNestedCallsAndTheCallOutside) {
  std::shared_ptr<const CompiledModule> module = compile("nested");
  NestedState nested;
  Result<std::unique_ptr<Instance>> instance =
      try_instantiate(module, {{"env", "call_back", fn({}, {}), call_back_into_spin}}, &nested,
                      deadline(milliseconds(100)));
  ASSERT_TRUE(instance.ok()) << instance.error();
  nested.spin = (*instance)->function("spin");
  auto start = steady_clock::now();
  CallResult outer = call(**instance, "outer");
  EXPECT_LE(since(start), milliseconds(200));  // the nested call did not get its own
  EXPECT_TRUE(nested.inner.interrupted);
  EXPECT_TRUE(outer.interrupted);
  EXPECT_FALSE(outer.ok);
}

TEST_F(EngineTest, DeadlineStopsALoopingStartFunction) {
  Result<std::shared_ptr<const CompiledModule>> module = engine().compile(wasm_bytes("start_loop"));
  ASSERT_TRUE(module.ok()) << module.error();
  auto start = steady_clock::now();
  Result<std::unique_ptr<Instance>> instance =
      try_instantiate(*module, {}, &host_, deadline(milliseconds(100)));
  milliseconds elapsed = since(start);
  ASSERT_FALSE(instance.ok());
  EXPECT_TRUE(instance.error().starts_with(
      "start function: stopped after exceeding the call deadline of 100 ms"))
      << instance.error();
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_LE(elapsed, milliseconds(200));
}

// --- sharing ---------------------------------------------------------------------------------

TEST_F(EngineTest, InstancesOfOneLinkedModuleAreIsolated) {
  std::shared_ptr<const LinkedModule> linked = link(compile("memory"), memory_bindings());
  HostState first_host, second_host;
  Result<std::unique_ptr<Instance>> first = linked->instantiate(&first_host, {});
  Result<std::unique_ptr<Instance>> second = linked->instantiate(&second_host, memory_cap(2));
  ASSERT_TRUE(first.ok() && second.ok());
  (*first)->memory()[100] = 1;
  EXPECT_EQ((*second)->memory()[100], 0);
  Value grow[] = {Value::from_i32(3)};
  EXPECT_EQ((*first)->call(*(*first)->function("grow"), grow).value.i32, 1);
  EXPECT_EQ((*second)->call(*(*second)->function("grow"), grow).value.i32, -1);  // own cap
  EXPECT_EQ((*first)->host_data(), &first_host);
  EXPECT_EQ((*second)->host_data(), &second_host);
}

TEST_F(EngineTest, TwoThreadsInstantiateOneLinkedModule) {
  std::shared_ptr<const LinkedModule> linked = link(compile("host_calls"), host_call_bindings());
  std::shared_ptr<const LinkedModule> spinner = link(compile("traps"), {});
  auto work = [&](int id, std::string* failure) {
    HostState host;
    Result<std::unique_ptr<Instance>> instance = linked->instantiate(&host, {});
    if (!instance) return void(*failure = instance.error());
    ExportedFunction* add = (*instance)->function("call_add_i64");
    for (int64_t i = 0; i < 10000; ++i) {
      Value args[] = {Value::from_i64(i << 40), Value::from_i64(id)};
      CallResult result = (*instance)->call(*add, args);
      if (!result.ok || result.value.i64 != (i << 40) + id + 1) {
        return void(*failure = "wrong result " + result.error);
      }
    }
    (*instance)->memory()[100] = static_cast<uint8_t>(id);
    if ((*instance)->memory()[100] != id) return void(*failure = "memory");

    // Deadlines stop the right thread's call.
    Result<std::unique_ptr<Instance>> spinning =
        spinner->instantiate(nullptr, deadline(milliseconds(50)));
    if (!spinning) return void(*failure = spinning.error());
    CallResult spun = (*spinning)->call(*(*spinning)->function("spin"), {});
    if (!spun.interrupted) *failure = "spin not interrupted: " + spun.error;
  };
  std::string failures[2];
  std::thread first(work, 1, &failures[0]);
  std::thread second(work, 2, &failures[1]);
  first.join();
  second.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
}

// Deep recursion is a trap on any thread with a stack of the usual sizes, never a crash.
TEST_F(EngineTest, DeepRecursionOnAWorkerSizedThreadIsATrap) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  struct Job {
    std::shared_ptr<const CompiledModule> module;
    CallResult result;
    std::string failure;
  } job{module, {}, {}};
  auto run = [](void* argument) -> void* {
    auto& job = *static_cast<Job*>(argument);
    Result<std::unique_ptr<Instance>> instance = try_instantiate(job.module, {}, nullptr);
    if (!instance) return job.failure = instance.error(), nullptr;
    Value args[] = {Value::from_i32(0)};
    job.result = (*instance)->call(*(*instance)->function("recurse"), args);
    return nullptr;
  };
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, size_t{2} * 1024 * 1024);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attributes, run, &job), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
  ASSERT_EQ(job.failure, "");
  EXPECT_FALSE(job.result.ok);
  EXPECT_EQ(job.result.error, "wasm trap: call stack exhausted");
}

TEST_F(EngineTest, InstanceMayOutliveItsModulesAndEngineHandles) {
  std::unique_ptr<Instance> instance;
  {
    std::shared_ptr<const LinkedModule> linked = link(compile("traps"), {});
    instance = std::move(*linked->instantiate(nullptr, {}));
  }
  CallResult add = call(*instance, "add", {Value::from_i32(2), Value::from_i32(3)});
  ASSERT_TRUE(add.ok) << add.error;
  EXPECT_EQ(add.value.i32, 5);
}

// --- the compiled-code cache -----------------------------------------------------------------

std::string fresh_dir(const std::string& name) {
  std::string dir = temp_dir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<std::filesystem::path> cache_entries(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path());
  return out;
}

TEST(CodeCache, SecondEngineLoadsTheCompiledCodeAndItRuns) {
  const std::string dir = fresh_dir("cache_reuse");
  const std::vector<uint8_t> bytes = wasm_bytes("traps");
  for (bool expect_cached : {false, true}) {
    Result<std::unique_ptr<Engine>> engine = create_wasmtime_engine({dir});
    ASSERT_TRUE(engine.ok()) << engine.error();
    Result<std::shared_ptr<const CompiledModule>> module = (*engine)->compile(bytes);
    ASSERT_TRUE(module.ok()) << module.error();
    EXPECT_EQ((*module)->from_code_cache(), expect_cached);
    Result<std::shared_ptr<const LinkedModule>> linked = (*engine)->link(*module, {});
    ASSERT_TRUE(linked.ok()) << linked.error();
    Result<std::unique_ptr<Instance>> instance = (*linked)->instantiate(nullptr, {});
    ASSERT_TRUE(instance.ok()) << instance.error();
    Value args[] = {Value::from_i32(20), Value::from_i32(22)};
    EXPECT_EQ((*instance)->call(*(*instance)->function("add"), args).value.i32, 42);
  }
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(cache_entries(dir).size(), 1u);
  ASSERT_EQ(stat(cache_entries(dir)[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

void overwrite_byte(const std::filesystem::path& path, std::streamoff at, char value) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(at);
  file.put(value);
}

// Every way an entry can be wrong: it is ignored, the module is compiled afresh (and
// runs), and the entry is rewritten whole.
TEST(CodeCache, DamagedEntriesAreIgnoredAndRebuilt) {
  const std::string dir = fresh_dir("cache_damage");
  const std::vector<uint8_t> bytes = wasm_bytes("traps");
  auto compile_once = [&]() -> bool {
    Result<std::unique_ptr<Engine>> engine = create_wasmtime_engine({dir});
    if (!engine) throw std::runtime_error(engine.error());
    Result<std::shared_ptr<const CompiledModule>> module = (*engine)->compile(bytes);
    if (!module) throw std::runtime_error(module.error());
    auto instance = (*(*engine)->link(*module, {}))->instantiate(nullptr, {});
    Value args[] = {Value::from_i32(1), Value::from_i32(2)};
    if ((*instance)->call(*(*instance)->function("add"), args).value.i32 != 3) {
      throw std::runtime_error("wrong answer");
    }
    return (*module)->from_code_cache();
  };
  ASSERT_FALSE(compile_once());
  const std::filesystem::path entry = cache_entries(dir).at(0);
  const auto size = static_cast<std::streamoff>(std::filesystem::file_size(entry));

  struct Damage {
    const char* what;
    std::function<void()> apply;
  };
  const std::vector<Damage> damages = {
      {"a flipped byte in the machine code", [&] { overwrite_byte(entry, size - 100, '\x5a'); }},
      {"a flipped byte in the header's checksum", [&] { overwrite_byte(entry, 60, '\x01'); }},
      {"another key in the header", [&] { overwrite_byte(entry, 12, '\x02'); }},
      {"truncated", [&] { std::filesystem::resize_file(entry, size / 2); }},
      {"padded", [&] { std::ofstream(entry, std::ios::app) << "more"; }},
      {"empty", [&] { std::filesystem::resize_file(entry, 0); }},
      {"not an entry at all", [&] { std::ofstream(entry, std::ios::trunc) << "#!/bin/sh\n"; }},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.what);
    damage.apply();
    EXPECT_FALSE(compile_once()) << "a damaged entry was used";
    EXPECT_TRUE(compile_once()) << "the entry was not rebuilt";
  }
}

TEST(CodeCache, EntryForOtherCodeIsNotUsed) {
  const std::string dir = fresh_dir("cache_other");
  Result<std::unique_ptr<Engine>> engine = create_wasmtime_engine({dir});
  ASSERT_TRUE(engine.ok());
  ASSERT_FALSE((*(*engine)->compile(wasm_bytes("traps")))->from_code_cache());
  // Planting the entry of one module under the name of another: the key inside says no.
  ASSERT_FALSE((*(*engine)->compile(wasm_bytes("nested")))->from_code_cache());
  std::vector<std::filesystem::path> entries = cache_entries(dir);
  ASSERT_EQ(entries.size(), 2u);
  std::filesystem::copy_file(entries[0], entries[1],
                             std::filesystem::copy_options::overwrite_existing);
  int cached = 0;
  for (const char* name : {"traps", "nested"}) {
    Result<std::shared_ptr<const CompiledModule>> module = (*engine)->compile(wasm_bytes(name));
    ASSERT_TRUE(module.ok()) << module.error();
    cached += (*module)->from_code_cache();
    EXPECT_TRUE((*module)->exports_function(name == std::string("traps") ? "spin" : "outer"));
  }
  EXPECT_EQ(cached, 1);
}

TEST(CodeCache, LeastRecentlyUsedEntriesGoPastTheSizeBound) {
  const std::string dir = fresh_dir("cache_bound");
  CodeCache cache(dir, /*max_bytes=*/2500);
  auto key = [](uint8_t n) {
    Sha256 k{};
    k[0] = n;
    return k;
  };
  const std::vector<uint8_t> payload(1000, 7);  // 1000 + the header per entry
  cache.store(key(1), payload);
  cache.store(key(2), payload);
  // Entry 1 is the older one, until it is used: then entry 2 is the one to go.
  const auto now = std::filesystem::file_time_type::clock::now();
  std::filesystem::last_write_time(cache.path_for(key(1)), now - std::chrono::seconds(20));
  std::filesystem::last_write_time(cache.path_for(key(2)), now - std::chrono::seconds(10));
  ASSERT_TRUE(cache.load(key(1)).has_value());
  cache.store(key(3), payload);
  EXPECT_TRUE(cache.load(key(1)).has_value());
  EXPECT_FALSE(cache.load(key(2)).has_value());
  EXPECT_TRUE(cache.load(key(3)).has_value());
  EXPECT_EQ(cache_entries(dir).size(), 2u);
}

TEST(CodeCache, DirectoryOthersCanWriteIsNotUsed) {
  const std::string dir = fresh_dir("cache_open");
  std::filesystem::create_directories(dir);
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  CodeCache cache(dir);
  EXPECT_FALSE(cache.enabled());
  EXPECT_FALSE(CodeCache("").enabled());
  Result<std::unique_ptr<Engine>> engine = create_wasmtime_engine({dir});
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE((*engine)->compile(wasm_bytes("traps")).ok());
  EXPECT_TRUE(cache_entries(dir).empty());
}

TEST_F(EngineTest, CompileNeverCrashesOnMutatedModules) {
  std::mt19937 random(777);
  std::vector<uint8_t> valid = wasm_bytes("types");
  int accepted = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> bytes = valid;
    bytes[8 + random() % (bytes.size() - 8)] ^= static_cast<uint8_t>(1u << (random() % 8));
    Result<std::shared_ptr<const CompiledModule>> module = engine().compile(bytes);
    accepted += module.ok();
  }
  SUCCEED() << accepted << " mutants compiled";
}

}  // namespace
}  // namespace weir::wasm
