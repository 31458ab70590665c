#include "extensions/common/wasm/plugin_loader.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;

namespace {
Result<std::string> read_code(const config::WasmPluginConfig& c) {
  if (c.code_filename.empty()) {
    if (c.code_inline.empty())
      return Error{"no code: vm_config.code.local needs a filename or inline bytes"};
    return c.code_inline;
  }
  std::ifstream in(c.code_filename, std::ios::binary);
  if (!in)
    return Error{"cannot read the code file '" + c.code_filename + "': " + std::strerror(errno)};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

Result<LoadedPlugin> load_and_trial_start(const config::WasmPluginConfig& config,
                                          ::weir::wasm::Engine& engine, stats::StatsStore& stats,
                                          std::string_view kind) {
  auto code = read_code(config);
  if (!code.ok()) return Error{code.error()};
  std::string source =
      config.code_filename.empty() ? std::string("inline code") : config.code_filename;
  auto compiled = pw::compile_shared(engine, code.value());
  if (!compiled.ok()) return Error{"compiling " + source + " failed: " + compiled.error()};
  auto module = pw::PluginModule::create(compiled.value(), config.name);
  if (!module.ok()) return Error{source + ": " + module.error()};
  auto spec = pw::PluginSpec::from_config(config);
  {
    // The trial runs with no worker attached: ticks do not fire and http calls are never
    // answered; the VM is discarded right after.
    auto rt = pw::WorkerRuntime::for_current_thread(engine, stats);
    if (!rt.ok()) return Error{rt.error()};
    auto vm = pw::Vm::create(rt.value(), module.value(), spec);
    if (!vm.ok()) return Error{"start-up failed: " + vm.error()};
    auto root = vm.value()->start_plugin(spec);
    if (!root.ok()) return Error{"start-up failed: " + root.error()};
  }
  spdlog::info(
      "{} '{}' (root_id '{}', vm_id '{}'): {} loaded, Proxy-Wasm ABI {}{}", kind, config.name,
      config.root_id, config.vm_id, source, pw::abi_version_name(module.value()->abi()),
      module.value()->stubbed_imports().empty()
          ? std::string()
          : ", " + std::to_string(module.value()->stubbed_imports().size()) + " import(s) stubbed");
  return LoadedPlugin{spec, module.value()};
}

}  // namespace weir::extensions::wasm
