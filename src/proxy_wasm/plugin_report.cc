#include "proxy_wasm/plugin_report.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "proxy_wasm/vm.h"

namespace weir::proxy_wasm {

namespace {

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  if (bytes < 1024 * 1024) return std::to_string((bytes + 1023) / 1024) + " KiB";
  return std::to_string((bytes + 1024 * 1024 - 1) / (1024 * 1024)) + " MiB";
}

// "  label:      item, item, item" wrapped at ~100 columns under the first item.
void append_list(std::string& out, std::string_view label, const std::vector<std::string>& items) {
  constexpr size_t kIndent = 14, kWidth = 100;
  std::string line = label.empty() ? std::string() : "  " + std::string(label) + ":";
  line.resize(std::max(line.size() + 1, kIndent), ' ');
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (line.size() > kIndent && line.size() + 1 + item.size() > kWidth) {
      out += line + "\n";
      line.assign(kIndent, ' ');
    } else if (line.size() > kIndent) {
      line += ' ';
    }
    line += item;
  }
  out += line + "\n";
}

}  // namespace

void describe_module(const wasm::CompiledModule& module, PluginReport& report) {
  auto abi = detect_abi_version(module);
  if (abi.ok()) {
    report.abi = abi.value();
  } else if (report.error.empty()) {
    report.error = abi.error();
  }
  for (const wasm::FunctionExport& e : module.function_exports()) {
    if (e.name == "proxy_on_memory_allocate" || e.name == "malloc") {
      report.allocators.push_back(e.name);
    } else if (e.name.starts_with("proxy_on_")) {
      report.callbacks.push_back(e.name);
    } else if (e.name == "_initialize" || e.name == "_start" || e.name == "main") {
      report.entry_points.push_back(e.name);
    }
  }
  report.import_count = module.function_imports().size();
  // Without an ABI version weir refuses the module; judge its imports as 0.2.1 anyway.
  const AbiVersion judged_as = report.abi.value_or(AbiVersion::V0_2_1);
  for (const wasm::FunctionImport& i : module.function_imports()) {
    if (!host_function_implemented(i.module, i.name, judged_as)) {
      report.unimplemented_imports.push_back(i.module + "." + i.name);
    }
  }
  report.initial_memory_pages = module.initial_memory_pages();
}

void compile_and_describe(std::string_view code, wasm::Engine& engine, PluginReport& report) {
  report.code_bytes = code.size();
  auto compiled = compile_shared(engine, code);
  if (!compiled.ok()) {
    report.error = "not a valid Wasm module: " + compiled.error();
    return;
  }
  report.module = compiled.value();
  describe_module(*report.module, report);
}

std::string format_plugin_report(const PluginReport& r) {
  std::string out =
      "plugin '" + r.plugin_name + "' (root_id '" + r.root_id + "', vm_id '" + r.vm_id + "')\n";
  out +=
      "  code:       " + r.source + (r.code_bytes ? ", " + human_bytes(r.code_bytes) : "") + "\n";
  if (!r.module) {
    out += "  error:      " + r.error + "\n";
    return out;
  }
  out += "  ABI:        " +
         (r.abi ? "Proxy-Wasm " + std::string(abi_version_name(*r.abi)) : "none: " + r.error) +
         "\n";
  out += "  memory:     " + std::to_string(r.initial_memory_pages) + " page(s) of 64 KiB (" +
         human_bytes(uint64_t{r.initial_memory_pages} * wasm::kWasmPageSize) +
         ") at start; weir's limit " + human_bytes(r.memory_limit_bytes) + "\n";
  append_list(out, "start-up",
              r.entry_points.empty() ? std::vector<std::string>{"(none)"} : r.entry_points);
  append_list(out, "allocator",
              r.allocators.empty()
                  ? std::vector<std::string>{"(none: the host cannot return data to the plugin)"}
                  : r.allocators);
  std::vector<std::string> callbacks = r.callbacks;
  if (callbacks.empty()) callbacks.emplace_back("(none)");
  append_list(out, "callbacks", callbacks);
  if (r.unimplemented_imports.empty()) {
    out += "  imports:    " + std::to_string(r.import_count) + ", all implemented by weir\n";
  } else {
    out +=
        "  imports:    " + std::to_string(r.import_count) + "; " +
        std::to_string(r.unimplemented_imports.size()) +
        " NOT implemented by weir (bound to stubs: calls answer UNIMPLEMENTED, WASI an errno):\n";
    append_list(out, "", r.unimplemented_imports);
  }
  return out;
}

}  // namespace weir::proxy_wasm
