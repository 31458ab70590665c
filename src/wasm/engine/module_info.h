#pragma once
// What the host needs to know about a Wasm module that SpiderMonkey's JS API does not
// tell: the declared types of function imports and exports, and the memory layout. Read
// straight from the binary by a small, bounds-checked parser that never trusts its input.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "wasm/engine/engine.h"

namespace weir::wasm {

enum class ExternalKind : uint8_t { Function = 0, Table = 1, Memory = 2, Global = 3, Tag = 4 };

// An import of anything but a function (the host can only bind functions).
struct OtherImport {
  std::string module;
  std::string name;
  ExternalKind kind;
};

struct ModuleInfo {
  std::vector<FunctionImport> function_imports;
  std::vector<FunctionExport> function_exports;
  std::vector<OtherImport> other_imports;
  std::vector<std::string> memory_exports;  // export names of the memory
  uint32_t initial_memory_pages = 0;        // of the memory the module defines itself
  bool defines_memory = false;
  bool shared_memory = false;              // its memory is shared (threads proposal)
  std::optional<uint32_t> start_function;  // function index from the start section
};

// Reads the type, import, function, memory and export sections of a Wasm binary. Other
// sections are skipped unread, so a module accepted here may still fail validation.
// Fails (never crashes, never allocates much more than the input's size) on malformed
// input and on function imports whose types use values the host cannot pass (v128,
// references). Exported functions with such types are left out: they are not callable.
Result<ModuleInfo> read_module_info(std::span<const uint8_t> wasm);

}  // namespace weir::wasm
