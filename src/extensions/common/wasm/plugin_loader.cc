#include "extensions/common/wasm/plugin_loader.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "extensions/common/wasm/remote_code_source.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;

namespace {
std::string source_of(const config::WasmPluginConfig& c) {
  if (c.code_remote) return c.code_remote->uri;
  return c.code_filename.empty() ? std::string("inline code") : c.code_filename;
}

Result<std::string> read_code(const config::WasmPluginConfig& c, stats::StatsStore* stats) {
  if (c.code_remote) return fetch_remote_code(*c.code_remote, stats);
  if (c.code_filename.empty()) {
    if (c.code_inline.empty()) {
      return Error{"no code: vm_config.code.local needs a filename or inline bytes"};
    }
    return c.code_inline;
  }
  std::ifstream in(c.code_filename, std::ios::binary);
  if (!in) {
    return Error{"cannot read the code file '" + c.code_filename + "': " + std::strerror(errno)};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
// The host layer keeps its own copy of the limits' defaults: they must stay the config's.
constexpr config::WasmLimits kConfigDefaults{};
constexpr pw::PluginLimits kHostDefaults{};
static_assert(kConfigDefaults.call_deadline == kHostDefaults.call_deadline);
static_assert(kConfigDefaults.max_memory_bytes == kHostDefaults.max_memory_bytes);
static_assert(kConfigDefaults.max_outstanding_calls == kHostDefaults.max_outstanding_calls);
static_assert(kConfigDefaults.max_call_response_bytes == kHostDefaults.max_call_response_bytes);
static_assert(kConfigDefaults.max_shared_queue_items == kHostDefaults.max_shared_queue_items);
static_assert(kConfigDefaults.max_shared_data_bytes == kHostDefaults.max_shared_data_bytes);
static_assert(kConfigDefaults.max_log_line_bytes == kHostDefaults.max_log_line_bytes);
static_assert(sizeof(config::WasmLimits) == sizeof(pw::PluginLimits),
              "a limit was added on one side only");

pw::FailurePolicy failure_policy_of(config::FailurePolicy p) {
  switch (p) {
    case config::FailurePolicy::FailOpen:
      return pw::FailurePolicy::FailOpen;
    case config::FailurePolicy::FailReload:
      return pw::FailurePolicy::FailReload;
    case config::FailurePolicy::FailClosed:
      break;
  }
  return pw::FailurePolicy::FailClosed;
}

// The report's reading of the code: an empty inline code is reported as an invalid module.
Result<std::string> read_code_for_report(const config::WasmPluginConfig& c) {
  if (c.code_remote) return fetch_remote_code(*c.code_remote, nullptr);
  if (c.code_filename.empty()) return c.code_inline;
  std::ifstream in(c.code_filename, std::ios::binary);
  if (!in) {
    return Error{"cannot read the code file '" + c.code_filename + "': " + std::strerror(errno)};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::shared_ptr<const pw::PluginSpec> plugin_spec_from_config(const config::WasmPluginConfig& c) {
  auto s = std::make_shared<pw::PluginSpec>();
  s->name = c.name;
  s->root_id = c.root_id;
  s->vm_id = c.vm_id;
  s->vm_configuration = c.vm_configuration;
  s->plugin_configuration = c.plugin_configuration;
  for (const auto& [k, v] : c.environment) {
    s->environment.push_back(std::string(k).append("=").append(v));
  }
  s->failure_policy = failure_policy_of(c.failure_policy);
  s->limits.call_deadline = c.limits.call_deadline;
  s->limits.max_memory_bytes = c.limits.max_memory_bytes;
  s->limits.max_outstanding_calls = c.limits.max_outstanding_calls;
  s->limits.max_call_response_bytes = c.limits.max_call_response_bytes;
  s->limits.max_shared_queue_items = c.limits.max_shared_queue_items;
  s->limits.max_shared_data_bytes = c.limits.max_shared_data_bytes;
  s->limits.max_log_line_bytes = c.limits.max_log_line_bytes;
  s->node = c.node;
  s->listener_metadata = c.listener_metadata;
  return s;
}

pw::PluginReport make_plugin_report(const config::WasmPluginConfig& config,
                                    ::weir::wasm::Engine& engine) {
  pw::PluginReport report;
  report.plugin_name = config.name;
  report.root_id = config.root_id;
  report.vm_id = config.vm_id;
  report.source = source_of(config);
  report.memory_limit_bytes = config.limits.max_memory_bytes;
  auto code = read_code_for_report(config);
  if (!code.ok()) {
    report.error = code.error();
    return report;
  }
  pw::compile_and_describe(code.value(), engine, report);
  return report;
}

Result<LoadedPlugin> load_and_trial_start(const config::WasmPluginConfig& config,
                                          ::weir::wasm::Engine& engine, stats::StatsStore& stats,
                                          std::string_view kind) {
  auto code = read_code(config, &stats);
  if (!code.ok()) return Error{code.error()};
  std::string source = source_of(config);
  auto compiled = pw::compile_shared(engine, code.value());
  if (!compiled.ok()) return Error{"compiling " + source + " failed: " + compiled.error()};
  auto module = pw::PluginModule::create(compiled.value(), config.name);
  if (!module.ok()) return Error{source + ": " + module.error()};
  auto spec = plugin_spec_from_config(config);
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
