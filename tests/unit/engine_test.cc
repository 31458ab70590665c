// Tests of the SpiderMonkey Wasm engine (src/wasm/engine) through its public interface,
// plus the module-info reader. Test modules are .wat files in testdata/wasm, converted
// with the wat2wasm binary (wabt) when a test first needs them.
#include "wasm/engine/engine.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wasm/engine/deferred_start.h"
#include "wasm/engine/module_info.h"
#include "wasm/engine/spidermonkey_library.h"

#ifndef WEIR_TEST_DATA_DIR
#define WEIR_TEST_DATA_DIR "tests/unit/testdata"
#endif

namespace weir::wasm {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Set in the child process of the clean-exit test, which must own SpiderMonkey's whole
// life itself.
constexpr char kLifecycleChildVariable[] = "WEIR_ENGINE_LIFECYCLE_CHILD";

bool is_lifecycle_child() { return std::getenv(kLifecycleChildVariable) != nullptr; }

// SpiderMonkey cannot be initialized again after JS_ShutDown, so this binary keeps one
// Engine alive from before the first test to after the last. Engines that tests create
// and destroy meanwhile share it (and do not shut SpiderMonkey down).
class SpiderMonkeyEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (is_lifecycle_child()) return;
    Result<std::unique_ptr<Engine>> created = create_spidermonkey_engine();
    ASSERT_TRUE(created.ok()) << created.error();
    engine_ = std::move(*created);
  }
  void TearDown() override { engine_.reset(); }
  static Engine& engine() { return *engine_; }

 private:
  static inline std::unique_ptr<Engine> engine_;
};

[[maybe_unused]] ::testing::Environment* const spidermonkey_environment =
    ::testing::AddGlobalTestEnvironment(new SpiderMonkeyEnvironment);

Engine& engine() { return SpiderMonkeyEnvironment::engine(); }

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

std::shared_ptr<const CompiledModule> compile(const std::string& name,
                                              const std::string& flags = "") {
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

// A Runtime on the test's thread, and helpers to instantiate and call.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Runtime>> runtime = engine().create_runtime();
    ASSERT_TRUE(runtime.ok()) << runtime.error();
    runtime_ = std::move(*runtime);
  }

  std::unique_ptr<Instance> instantiate(const CompiledModule& module,
                                        const std::vector<HostBinding>& bindings = {}) {
    Result<std::unique_ptr<Instance>> instance = runtime_->instantiate(module, bindings, &host_);
    if (!instance) throw std::runtime_error("instantiate: " + instance.error());
    return std::move(*instance);
  }

  static CallResult call(Instance& instance, std::string_view name, std::vector<Value> args = {}) {
    ExportedFunction* function = instance.function(name);
    if (!function) throw std::runtime_error("no export " + std::string(name));
    return instance.call(*function, args);
  }

  HostState host_;
  std::unique_ptr<Runtime> runtime_;
};

// --- compiling and reading modules ---------------------------------------------------------

TEST_F(EngineTest, CompileErrorCarriesSpiderMonkeysMessage) {
  const uint8_t garbage[] = {'n', 'o', 't', ' ', 'w', 'a', 's', 'm'};
  Result<std::shared_ptr<const CompiledModule>> bad_magic = engine().compile(garbage);
  ASSERT_FALSE(bad_magic.ok());
  EXPECT_NE(bad_magic.error().find("CompileError"), std::string::npos) << bad_magic.error();

  Result<std::shared_ptr<const CompiledModule>> invalid =
      engine().compile(wasm_bytes("invalid", "--no-check"));
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().find("CompileError"), std::string::npos) << invalid.error();
  EXPECT_NE(invalid.error().find("type mismatch"), std::string::npos) << invalid.error();

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

// --- instantiating ---------------------------------------------------------------------------

TEST_F(EngineTest, MissingOrMistypedBindingFailsNamingTheImport) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::vector<HostBinding> bindings = host_call_bindings();
  bindings.erase(bindings.begin() + 1);  // env.add_i64
  Result<std::unique_ptr<Instance>> missing = runtime_->instantiate(*module, bindings, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("env.add_i64"), std::string::npos) << missing.error();

  bindings = host_call_bindings();
  bindings[3].type.results = {ValType::I32};  // env.note returns nothing
  Result<std::unique_ptr<Instance>> mistyped = runtime_->instantiate(*module, bindings, nullptr);
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
  std::unique_ptr<Instance> instance = instantiate(*module, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{42});
  EXPECT_EQ(host_.logged, "from start");
  EXPECT_EQ(instance->host_data(), &host_);

  // The export the engine calls the start function through stays out of sight.
  EXPECT_EQ(module->function_exports().size(), 1u);
  EXPECT_EQ(instance->function("weir.start"), nullptr);
  CallResult answer = call(*instance, "get_answer");
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_EQ(answer.value.i32, 42);
}

TEST_F(EngineTest, StartFunctionTrapFailsInstantiation) {
  std::shared_ptr<const CompiledModule> module = compile("start");
  host_.trap_message = "no starting today";
  Result<std::unique_ptr<Instance>> instance =
      runtime_->instantiate(*module, start_bindings(fail), &host_);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.error(), "no starting today");
}

TEST_F(EngineTest, StartFunctionOfModulesWithoutOrWithClashingExports) {
  std::shared_ptr<const CompiledModule> bare = compile("start_no_exports");
  std::unique_ptr<Instance> first = instantiate(*bare, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{7});

  host_.notes.clear();
  std::shared_ptr<const CompiledModule> clash = compile("start_name_clash");
  std::unique_ptr<Instance> second = instantiate(*clash, start_bindings());
  EXPECT_EQ(host_.notes, std::vector<int32_t>{1});
  ASSERT_TRUE(call(*second, "weir.start").ok);  // the module's own export of that name
  EXPECT_EQ(host_.notes, (std::vector<int32_t>{1, 2}));
}

HostResult note_plus_10(HostCall& call) {
  state(call).notes.push_back(call.args[0].i32 + 10);
  return HostResult::none();
}

TEST_F(EngineTest, NamesAreBytesNotJavaScriptProperties) {
  using enum ValType;
  std::shared_ptr<const CompiledModule> module = compile("odd_names");
  std::unique_ptr<Instance> instance =
      instantiate(*module, {{"__proto__", "f", fn({I32}, {}), note},
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
  std::unique_ptr<Instance> instance = instantiate(*module, host_call_bindings());

  CallResult i32 = call(*instance, "call_add_i32", {Value::from_i32(-5), Value::from_i32(40)});
  ASSERT_TRUE(i32.ok) << i32.error;
  EXPECT_EQ(i32.value.i32, 36);

  // Beyond 2^53 on purpose: must travel as BigInt, not double.
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
  std::unique_ptr<Instance> instance = instantiate(*module, host_call_bindings());
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
  std::unique_ptr<Instance> instance = instantiate(*module);

  CallResult unreachable = call(*instance, "unreachable");
  EXPECT_FALSE(unreachable.ok);
  EXPECT_FALSE(unreachable.interrupted);
  EXPECT_EQ(unreachable.error, "RuntimeError: unreachable executed");

  CallResult out_of_bounds = call(*instance, "out_of_bounds");
  EXPECT_FALSE(out_of_bounds.ok);
  EXPECT_NE(out_of_bounds.error.find("RuntimeError: index out of bounds"), std::string::npos)
      << out_of_bounds.error;

  CallResult divide = call(*instance, "divide", {Value::from_i32(1), Value::from_i32(0)});
  EXPECT_FALSE(divide.ok);
  EXPECT_NE(divide.error.find("RuntimeError"), std::string::npos) << divide.error;

  CallResult recurse = call(*instance, "recurse", {Value::from_i32(0)});
  EXPECT_FALSE(recurse.ok);
  EXPECT_NE(recurse.error.find("too much recursion"), std::string::npos) << recurse.error;

  CallResult add = call(*instance, "add", {Value::from_i32(40), Value::from_i32(2)});
  ASSERT_TRUE(add.ok) << add.error;
  EXPECT_EQ(add.value.i32, 42);
}

TEST_F(EngineTest, HostFunctionTrapUnwindsWasmWithItsMessage) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(*module, host_call_bindings());
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
  Result<std::shared_ptr<const CompiledModule>> module =
      engine().compile(wasm_bytes("catch", "--enable-exceptions"));
  if (!module) GTEST_SKIP() << "no Wasm exception handling here: " << module.error();
  std::unique_ptr<Instance> instance =
      instantiate(**module, {{"env", "fail", fn({ValType::I32}, {ValType::I32}), fail}});
  CallResult result = call(*instance, "catch_host_trap");
  EXPECT_FALSE(result.ok) << "caught, returned " << result.value.i32;
  EXPECT_EQ(result.error, "proc_exit(3)");
}

TEST_F(EngineTest, CppExceptionInHostFunctionBecomesATrap) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::unique_ptr<Instance> instance = instantiate(*module, host_call_bindings(throw_exception));
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
  std::unique_ptr<Instance> instance = instantiate(*module, memory_bindings());
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
  std::unique_ptr<Instance> instance = instantiate(*module, memory_bindings());
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
  std::unique_ptr<Instance> instance = instantiate(*module, memory_bindings());
  host_.alloc = instance->function("alloc");
  const int32_t size = 5 * kWasmPageSize;  // forces alloc to grow memory
  CallResult sum = call(*instance, "host_fills", {Value::from_i32(size)});
  ASSERT_TRUE(sum.ok) << sum.error;
  EXPECT_EQ(sum.value.i32, size);
  EXPECT_GE(instance->memory_pages(), 6u);
}

TEST_F(EngineTest, MemoryLimitStopsAPluginThatGrowsTooMuch) {
  std::shared_ptr<const CompiledModule> module = compile("memory");
  std::unique_ptr<Instance> instance = instantiate(*module, memory_bindings());
  instance->set_memory_limit_pages(4);
  ASSERT_TRUE(call(*instance, "grow", {Value::from_i32(3)}).ok);  // 4 pages: at the limit

  // Over the limit, then calling the host: the host call traps.
  CallResult inspected = call(*instance, "grow_then_inspect", {Value::from_i32(1)});
  EXPECT_FALSE(inspected.ok);
  EXPECT_NE(inspected.error.find("memory limit exceeded: 5 pages, limit 4"), std::string::npos)
      << inspected.error;
  EXPECT_EQ(host_.pages_seen, 0u) << "the host function ran";

  // And the instance stays spent.
  CallResult later = call(*instance, "pages");
  EXPECT_FALSE(later.ok);

  // Over the limit without a host call: the call fails when it returns.
  std::unique_ptr<Instance> other = instantiate(*module, memory_bindings());
  other->set_memory_limit_pages(2);
  CallResult grown = call(*other, "grow", {Value::from_i32(5)});
  EXPECT_FALSE(grown.ok);
  EXPECT_NE(grown.error.find("memory limit exceeded"), std::string::npos) << grown.error;
}

// --- interrupts ------------------------------------------------------------------------------

TEST_F(EngineTest, InterruptStopsAnInfiniteLoopFromAnotherThread) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(*module);
  ExportedFunction* spin = instance->function("spin");
  ASSERT_NE(spin, nullptr);

  const auto delay = milliseconds(100);
  auto start = steady_clock::now();
  std::thread watchdog([&] {
    std::this_thread::sleep_for(delay);
    instance->request_interrupt();
  });
  CallResult result = instance->call(*spin, {});
  auto elapsed = steady_clock::now() - start;
  watchdog.join();

  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.interrupted);
  EXPECT_GE(elapsed, delay);
  EXPECT_LT(elapsed, delay + milliseconds(400));

  // The flag is cleared once the call returned.
  CallResult add = call(*instance, "add", {Value::from_i32(1), Value::from_i32(2)});
  ASSERT_TRUE(add.ok) << add.error;
  EXPECT_EQ(add.value.i32, 3);
}

TEST_F(EngineTest, InterruptRequestedBetweenCallsStopsTheNextCall) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(*module);
  instance->request_interrupt();
  CallResult stopped = call(*instance, "add", {Value::from_i32(1), Value::from_i32(2)});
  EXPECT_FALSE(stopped.ok);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_TRUE(call(*instance, "add", {Value::from_i32(1), Value::from_i32(2)}).ok);

  // Another instance on the same context is not disturbed by the request.
  std::unique_ptr<Instance> other = instantiate(*module);
  instance->request_interrupt();
  EXPECT_TRUE(call(*other, "add", {Value::from_i32(1), Value::from_i32(2)}).ok);
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

// An interrupt stops the whole stack, even when the host function in the middle swallows
// the inner call's failure and lets the outer Wasm code continue.
TEST_F(EngineTest, InterruptStopsNestedCallsAndTheCallOutside) {
  std::shared_ptr<const CompiledModule> module = compile("nested");
  NestedState nested;
  Result<std::unique_ptr<Instance>> instance = runtime_->instantiate(
      *module, {{"env", "call_back", fn({}, {}), call_back_into_spin}}, &nested);
  ASSERT_TRUE(instance.ok()) << instance.error();
  nested.spin = (*instance)->function("spin");
  std::thread watchdog([&] {
    std::this_thread::sleep_for(milliseconds(50));
    (*instance)->request_interrupt();
  });
  CallResult outer = call(**instance, "outer");
  watchdog.join();
  EXPECT_TRUE(nested.inner.interrupted);
  EXPECT_TRUE(outer.interrupted);
  EXPECT_FALSE(outer.ok);
}

// --- threads and lifetimes -------------------------------------------------------------------

TEST_F(EngineTest, TwoThreadsInstantiateOneCompiledModule) {
  std::shared_ptr<const CompiledModule> module = compile("host_calls");
  std::shared_ptr<const CompiledModule> spinner = compile("traps");
  auto work = [&](int id, std::string* failure) {
    Result<std::unique_ptr<Runtime>> runtime = engine().create_runtime();
    if (!runtime) return void(*failure = runtime.error());
    HostState host;
    Result<std::unique_ptr<Instance>> instance =
        (*runtime)->instantiate(*module, host_call_bindings(), &host);
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

    // Interrupts reach the right thread's context.
    Result<std::unique_ptr<Instance>> spinning = (*runtime)->instantiate(*spinner, {}, nullptr);
    if (!spinning) return void(*failure = spinning.error());
    std::thread watchdog([&] {
      std::this_thread::sleep_for(milliseconds(50));
      (*spinning)->request_interrupt();
    });
    CallResult spun = (*spinning)->call(*(*spinning)->function("spin"), {});
    watchdog.join();
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

// SpiderMonkey's default stack quota assumes ~1 MiB of stack; on a smaller one, deep
// recursion would run off the stack and crash unless the quota follows the real size.
TEST_F(EngineTest, DeepRecursionOnASmallThreadStackIsAnError) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  struct Job {
    const CompiledModule* module;
    CallResult result;
    std::string failure;
  } job{module.get(), {}, {}};
  auto run = [](void* argument) -> void* {
    auto& job = *static_cast<Job*>(argument);
    Result<std::unique_ptr<Runtime>> runtime = engine().create_runtime();
    if (!runtime) return job.failure = runtime.error(), nullptr;
    Result<std::unique_ptr<Instance>> instance = (*runtime)->instantiate(*job.module, {}, nullptr);
    if (!instance) return job.failure = instance.error(), nullptr;
    Value args[] = {Value::from_i32(0)};
    job.result = (*instance)->call(*(*instance)->function("recurse"), args);
    return nullptr;
  };
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, size_t{512} * 1024);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attributes, run, &job), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
  ASSERT_EQ(job.failure, "");
  EXPECT_FALSE(job.result.ok);
  EXPECT_NE(job.result.error.find("too much recursion"), std::string::npos) << job.result.error;
}

TEST_F(EngineTest, InstanceMayOutliveItsRuntime) {
  std::shared_ptr<const CompiledModule> module = compile("traps");
  std::unique_ptr<Instance> instance = instantiate(*module);
  runtime_.reset();
  CallResult add = call(*instance, "add", {Value::from_i32(2), Value::from_i32(3)});
  ASSERT_TRUE(add.ok) << add.error;
  EXPECT_EQ(add.value.i32, 5);
}

std::string self_executable() {
  char path[4096];
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, length) : "";
}

// The whole life of SpiderMonkey in one process: it must end with a clean exit (no abort
// in static destructors), and refuse to start again. Runs in a child process, since this
// one keeps SpiderMonkey alive for the other tests (in the child, other test files'
// environments may still hold an Engine of their own).
TEST(SpiderMonkeyLifecycle, CleanExitAfterThreadsAndInstances) {
  if (!is_lifecycle_child()) {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string command = std::string(kLifecycleChildVariable) + "=1 '" + self_executable() +
                          "' --gtest_filter=" + test->test_suite_name() + "." + test->name() +
                          " 2>&1";
    FILE* child = popen(command.c_str(), "r");
    ASSERT_NE(child, nullptr);
    std::string output;
    char buffer[512];
    while (size_t n = fread(buffer, 1, sizeof buffer, child)) output.append(buffer, n);
    int status = pclose(child);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
    return;
  }

  Result<std::unique_ptr<Engine>> engine = create_spidermonkey_engine();
  ASSERT_TRUE(engine.ok()) << engine.error();
  Result<std::shared_ptr<const CompiledModule>> module =
      (*engine)->compile(wasm_bytes("host_calls"));
  ASSERT_TRUE(module.ok()) << module.error();

  // A runtime on the main thread shares the compiler's context.
  Result<std::unique_ptr<Runtime>> main_runtime = (*engine)->create_runtime();
  ASSERT_TRUE(main_runtime.ok()) << main_runtime.error();
  HostState host;
  Result<std::unique_ptr<Instance>> main_instance =
      (*main_runtime)->instantiate(**module, host_call_bindings(), &host);
  ASSERT_TRUE(main_instance.ok()) << main_instance.error();

  auto work = [&] {
    Result<std::unique_ptr<Runtime>> runtime = (*engine)->create_runtime();
    ASSERT_TRUE(runtime.ok()) << runtime.error();
    HostState thread_host;
    std::vector<std::unique_ptr<Instance>> instances;
    for (int i = 0; i < 3; ++i) {
      Result<std::unique_ptr<Instance>> instance =
          (*runtime)->instantiate(**module, host_call_bindings(), &thread_host);
      ASSERT_TRUE(instance.ok()) << instance.error();
      Value args[] = {Value::from_i32(i), Value::from_i32(1)};
      EXPECT_TRUE((*instance)->call(*(*instance)->function("call_add_i32"), args).ok);
      instances.push_back(std::move(*instance));
    }
    instances.clear();  // Instances before their Runtime
    runtime->reset();   // the thread's context goes with it...

    // ...and a new one can be made on the same thread.
    Result<std::unique_ptr<Runtime>> again = (*engine)->create_runtime();
    ASSERT_TRUE(again.ok()) << again.error();
    Result<std::unique_ptr<Instance>> instance =
        (*again)->instantiate(**module, host_call_bindings(), &thread_host);
    ASSERT_TRUE(instance.ok()) << instance.error();
    Value args[] = {Value::from_i32(1), Value::from_i32(1)};
    EXPECT_EQ((*instance)->call(*(*instance)->function("call_add_i32"), args).value.i32, 3);
  };
  std::thread first(work), second(work);
  first.join();
  second.join();

  main_instance->reset();
  main_runtime->reset();
  module->reset();
  engine->reset();  // JS_ShutDown, unless another test file's environment holds an Engine

  if (sm::Library::in_use()) return;  // then its teardown shuts down, before exit
  Result<std::unique_ptr<Engine>> again = create_spidermonkey_engine();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("cannot be initialized again"), std::string::npos) << again.error();
}

// --- the module-info reader on hostile input ------------------------------------------------

TEST(ModuleInfoReader, RejectsMalformedHeadersAndSections) {
  auto read = [](std::vector<uint8_t> bytes) { return read_module_info(bytes); };
  const std::vector<uint8_t> header = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  auto with_header = [&](std::vector<uint8_t> tail) {
    std::vector<uint8_t> bytes = header;
    bytes.insert(bytes.end(), tail.begin(), tail.end());
    return bytes;
  };
  EXPECT_TRUE(read(header).ok());
  EXPECT_FALSE(read({}).ok());
  EXPECT_FALSE(read({0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00}).ok());
  EXPECT_FALSE(read(with_header({0x01, 0x05, 0x01})).ok());                          // past the end
  EXPECT_FALSE(read(with_header({0x01, 0x80, 0x80, 0x80, 0x80, 0x10})).ok());        // LEB > u32
  EXPECT_FALSE(read(with_header({0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})).ok());  // too long
  EXPECT_FALSE(read(with_header({0x0e, 0x00})).ok());                          // unknown section
  EXPECT_FALSE(read(with_header({0x01, 0x01, 0x00, 0x01, 0x01, 0x00})).ok());  // duplicate
  EXPECT_FALSE(read(with_header({0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f})).ok());  // count
  EXPECT_FALSE(read(with_header({0x01, 0x04, 0x01, 0x60, 0x01, 0x55})).ok());        // bad type
  // Function section naming a type that does not exist.
  EXPECT_FALSE(read(with_header({0x03, 0x02, 0x01, 0x00})).ok());
  // An import of type index 0 before any type section.
  EXPECT_FALSE(read(with_header({0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00})).ok());
  // Custom sections are skipped whatever they hold.
  EXPECT_TRUE(read(with_header({0x00, 0x03, 0x01, 'x', 0xff})).ok());
}

TEST(ModuleInfoReader, FindsTheStartFunctionWhichCanBeMovedToAnExport) {
  std::vector<uint8_t> wasm = wasm_bytes("start");
  Result<ModuleInfo> info = read_module_info(wasm);
  ASSERT_TRUE(info.ok()) << info.error();
  ASSERT_TRUE(info->start_function.has_value());
  EXPECT_EQ(*info->start_function, 3u);  // after two imports and get_answer
  EXPECT_FALSE(read_module_info(wasm_bytes("types"))->start_function.has_value());

  Result<DeferredStart> deferred = defer_start_function(wasm, *info->start_function);
  ASSERT_TRUE(deferred.ok()) << deferred.error();
  EXPECT_EQ(deferred->export_name, "weir.start");
  Result<ModuleInfo> rewritten = read_module_info(deferred->wasm);
  ASSERT_TRUE(rewritten.ok()) << rewritten.error();
  EXPECT_FALSE(rewritten->start_function.has_value());
  ASSERT_EQ(rewritten->function_exports.size(), 2u);
  EXPECT_EQ(rewritten->function_exports[1].name, "weir.start");

  EXPECT_FALSE(defer_start_function(wasm_bytes("types"), 0).ok());  // no start section
}

TEST(ModuleInfoReader, NeverCrashesOnRandomTruncatedOrMutatedModules) {
  std::mt19937 random(12345);
  std::vector<std::vector<uint8_t>> valid = {wasm_bytes("types"), wasm_bytes("memory"),
                                             wasm_bytes("host_calls"), wasm_bytes("start")};
  for (const std::vector<uint8_t>& module : valid) ASSERT_TRUE(read_module_info(module).ok());

  auto byte = [&] { return static_cast<uint8_t>(random()); };
  for (int i = 0; i < 20000; ++i) {  // random bytes, half of them behind a valid header
    std::vector<uint8_t> bytes(random() % 64);
    for (uint8_t& b : bytes) b = byte();
    if (i % 2) bytes.insert(bytes.begin(), valid[0].begin(), valid[0].begin() + 8);
    (void)read_module_info(bytes);
    (void)defer_start_function(bytes, 0);
  }
  for (const std::vector<uint8_t>& module : valid) {  // every truncation
    for (size_t length = 0; length < module.size(); ++length) {
      (void)read_module_info(std::span(module).first(length));
      (void)defer_start_function(std::span(module).first(length), 0);
    }
  }
  for (int i = 0; i < 50000; ++i) {  // a few flipped, replaced or inserted bytes
    std::vector<uint8_t> bytes = valid[i % valid.size()];
    for (int edits = 1 + random() % 4; edits > 0; --edits) {
      size_t at = random() % bytes.size();
      switch (random() % 3) {
        case 0:
          bytes[at] ^= static_cast<uint8_t>(1u << (random() % 8));
          break;
        case 1:
          bytes[at] = byte();
          break;
        default:
          bytes.insert(bytes.begin() + at, byte());
      }
    }
    (void)read_module_info(bytes);
    (void)defer_start_function(bytes, 0);
  }
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
