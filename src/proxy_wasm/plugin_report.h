#pragma once
// What `weir --mode validate` tells a plugin author about each configured plugin: the ABI
// it declares, the callbacks it exports, the host functions it imports that weir does not
// implement (they are bound to stubs), and its memory. Read from the compiled module alone:
// nothing is instantiated.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/types.h"
#include "wasm/engine/engine.h"

namespace weir::proxy_wasm {

struct PluginReport {
  std::string plugin_name;
  std::string root_id;
  std::string vm_id;
  std::string source;  // the code file, or "inline code"
  size_t code_bytes = 0;
  // Reading, compiling or ABI detection failed; the fields below may be empty.
  std::string error;

  std::optional<AbiVersion> abi;
  std::vector<std::string> callbacks;     // exported proxy_on_* (but the allocator)
  std::vector<std::string> entry_points;  // _initialize, _start, main: what runs at start-up
  std::vector<std::string> allocators;    // proxy_on_memory_allocate, malloc
  size_t import_count = 0;
  std::vector<std::string> unimplemented_imports;  // "env.proxy_http_call", ...
  uint32_t initial_memory_pages = 0;
  uint64_t memory_limit_bytes = 0;

  // Kept so that the trial start that follows reuses this compilation (compile_shared).
  std::shared_ptr<const wasm::CompiledModule> module;
};

// Compiles the plugin's code (sharing the compilation, see compile_shared) and fills the
// report from it; failures land in `error`. The caller fills the names, the source and
// the memory limit (extensions/common/wasm/plugin_loader.h reads them from the config).
void compile_and_describe(std::string_view code, wasm::Engine& engine, PluginReport& report);

// The report of an already compiled module (fills everything but the config's names).
void describe_module(const wasm::CompiledModule& module, PluginReport& report);

// Human-readable, several lines, each ending in '\n'.
std::string format_plugin_report(const PluginReport& report);

// True when weir binds module.name to a real implementation for a plugin of ABI `abi`;
// false for what it binds to a stub (unknown functions, functions not implemented yet,
// functions of another ABI version). Defined in host_functions.cc, next to the table.
bool host_function_implemented(std::string_view module, std::string_view name, AbiVersion abi);

}  // namespace weir::proxy_wasm
