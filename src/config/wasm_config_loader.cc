// envoy.extensions.wasm.v3.PluginConfig and its VmConfig: what the HTTP filter and the
// bootstrap WasmService share.
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

#include "config/base64.h"
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

bool is_lower_hex_sha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// code.remote: Envoy's RemoteDataSource, plus oci:// URIs and weir_registry_auth.
RemoteCodeConfig load_remote_code(const ConfigNode& remote) {
  remote.expect_fields(names::kRemoteDataSource,
                       {"http_uri", "sha256", "retry_policy", "weir_registry_auth"});
  RemoteCodeConfig out;
  out.location = remote.location();
  const ConfigNode http_uri = remote.required("http_uri");
  http_uri.expect_fields(names::kHttpUri, {"uri", "cluster", "timeout"});
  const ConfigNode uri = http_uri.required("uri");
  out.uri = uri.as_nonempty_string();
  const bool oci = out.uri.starts_with("oci://");
  if (!oci && !out.uri.starts_with("http://") && !out.uri.starts_with("https://")) {
    uri.fail("the uri must start with http://, https:// or oci://");
  }
  if (http_uri.has("cluster")) out.cluster_name = http_uri.field("cluster").as_nonempty_string();
  if (!oci && out.cluster_name.empty()) http_uri.fail("http_uri needs a cluster");
  const ConfigNode timeout = http_uri.required("timeout");
  out.timeout = timeout.as_duration();
  if (out.timeout < std::chrono::milliseconds(1) || out.timeout > std::chrono::minutes(10)) {
    timeout.fail("timeout must be between 1ms and 600s");
  }
  if (const ConfigNode sha = remote.field("sha256"); sha.present()) {
    out.sha256 = sha.as_string();
    for (char& c : out.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!is_lower_hex_sha256(out.sha256)) sha.fail("sha256 must be 64 hexadecimal digits");
  } else if (!oci) {
    // As Envoy: remote code is only ever run when it is the code the config names.
    remote.fail("code.remote needs sha256 (an oci:// uri may go without: its digest is checked)");
  }
  if (const ConfigNode retry = remote.field("retry_policy"); retry.present()) {
    retry.expect_fields(names::kRetryPolicy, {"retry_back_off", "num_retries"});
    if (const ConfigNode n = retry.field("num_retries"); n.present()) {
      out.num_retries = static_cast<uint32_t>(n.as_uint(0, 100));
    }
    if (const ConfigNode back_off = retry.field("retry_back_off"); back_off.present()) {
      back_off.expect_fields(names::kBackoffStrategy, {"base_interval", "max_interval"});
      const ConfigNode base = back_off.required("base_interval");
      out.base_interval = base.as_duration();
      if (out.base_interval < std::chrono::milliseconds(1)) {
        base.fail("base_interval must be at least 1ms");
      }
      out.max_interval = out.base_interval * 10;
      if (const ConfigNode max = back_off.field("max_interval"); max.present()) {
        out.max_interval = max.as_duration();
        if (out.max_interval < out.base_interval) {
          max.fail("max_interval must be at least base_interval");
        }
      }
    }
  }
  if (const ConfigNode auth = remote.field("weir_registry_auth"); auth.present()) {
    if (!oci) auth.fail("weir_registry_auth is for oci:// uris");
    auth.expect_fields(names::kWeirRegistryAuth, {"docker_config"});
    const ConfigNode file = auth.required("docker_config");
    out.docker_config_path = file.as_nonempty_string();
    std::error_code error;
    if (!std::filesystem::is_regular_file(out.docker_config_path, error)) {
      file.fail("docker_config file \"" + out.docker_config_path + "\" does not exist");
    }
  }
  return out;
}

void load_code(const ConfigNode& code, WasmPluginConfig& plugin) {
  code.expect_fields(names::kAsyncDataSource, {"local", "remote"});
  if (code.has("remote")) {
    if (code.has("local")) code.fail("needs exactly one of local and remote");
    plugin.code_remote = load_remote_code(code.field("remote"));
    return;
  }
  const ConfigNode local = code.required("local");
  local.expect_fields(names::kDataSource, {"filename", "inline_bytes", "inline_string"});
  const ConfigNode filename = local.field("filename");
  const ConfigNode inline_bytes = local.field("inline_bytes");
  const ConfigNode inline_string = local.field("inline_string");
  const int sources = filename.present() + inline_bytes.present() + inline_string.present();
  if (sources != 1) local.fail("needs exactly one of filename, inline_bytes and inline_string");

  if (filename.present()) {
    plugin.code_filename = filename.as_nonempty_string();
    std::error_code error;
    if (filename.context().options.check_code_files &&
        !std::filesystem::is_regular_file(plugin.code_filename, error)) {
      filename.fail("wasm module file \"" + plugin.code_filename + "\" does not exist");
    }
  } else if (inline_bytes.present()) {
    std::optional<std::string> bytes = decode_base64(inline_bytes.as_string());
    if (!bytes) inline_bytes.fail("inline_bytes must be base64");
    plugin.code_inline = std::move(*bytes);
  } else {
    plugin.code_inline = inline_string.as_string();
  }
}

void load_environment(const ConfigNode& environment, WasmPluginConfig& plugin) {
  environment.expect_fields(names::kEnvironmentVariables, {"host_env_keys", "key_values"});
  std::set<std::string> host_keys;
  for (const ConfigNode& key_node : environment.field("host_env_keys").items()) {
    const std::string key = key_node.as_nonempty_string();
    host_keys.insert(key);
    // Like Envoy: a host variable that is not set is simply not passed on.
    if (const char* value = std::getenv(key.c_str())) plugin.environment[key] = value;
  }
  for (const auto& [key, value] : environment.field("key_values").entries()) {
    if (host_keys.contains(key)) {
      value.fail("\"" + key + "\" is in both host_env_keys and key_values");
    }
    plugin.environment[key] = value.as_string();
  }
}

void load_limits(const ConfigNode& limits, WasmLimits& out) {
  if (!limits.present()) return;
  limits.expect_fields(
      names::kWeirLimits,
      {"call_deadline", "max_memory_bytes", "max_outstanding_calls", "max_call_response_bytes",
       "max_shared_queue_items", "max_shared_data_bytes", "max_log_line_bytes"});
  if (const ConfigNode n = limits.field("call_deadline"); n.present()) {
    out.call_deadline = n.as_duration();
    if (out.call_deadline < std::chrono::milliseconds(1) ||
        out.call_deadline > std::chrono::milliseconds(60'000)) {
      n.fail("call_deadline must be between 1ms and 60s");
    }
  }
  constexpr uint64_t kPage = 64 * 1024;
  if (const ConfigNode n = limits.field("max_memory_bytes"); n.present()) {
    out.max_memory_bytes = n.as_uint(kPage, 4ull * 1024 * 1024 * 1024);
  }
  if (const ConfigNode n = limits.field("max_outstanding_calls"); n.present()) {
    out.max_outstanding_calls = static_cast<uint32_t>(n.as_uint(1, 1'000'000));
  }
  if (const ConfigNode n = limits.field("max_call_response_bytes"); n.present()) {
    out.max_call_response_bytes = n.as_uint(0, 1ull << 32);
  }
  if (const ConfigNode n = limits.field("max_shared_queue_items"); n.present()) {
    out.max_shared_queue_items = static_cast<uint32_t>(n.as_uint(1, 100'000'000));
  }
  if (const ConfigNode n = limits.field("max_shared_data_bytes"); n.present()) {
    out.max_shared_data_bytes = n.as_uint(0, 1ull << 40);
  }
  if (const ConfigNode n = limits.field("max_log_line_bytes"); n.present()) {
    out.max_log_line_bytes = static_cast<uint32_t>(n.as_uint(64, 1u << 24));
  }
}

void load_vm_config(const ConfigNode& vm_config, WasmPluginConfig& plugin) {
  vm_config.expect_fields(names::kVmConfig,
                          {"vm_id", "runtime", "code", "configuration", "allow_precompiled",
                           "environment_variables", "weir_limits", "nack_on_code_cache_miss"});
  load_limits(vm_config.field("weir_limits"), plugin.limits);
  if (vm_config.has("vm_id")) plugin.vm_id = vm_config.field("vm_id").as_string();
  if (vm_config.has("runtime")) {
    const ConfigNode runtime = vm_config.field("runtime");
    plugin.runtime = runtime.as_string();
    // Envoy configs name V8; weir runs every plugin on Wasmtime, which runs the same
    // modules. The null VM (native code) and other engines are not something it can be.
    if (!plugin.runtime.empty() && plugin.runtime != "envoy.wasm.runtime.v8" &&
        plugin.runtime != "envoy.wasm.runtime.wasmtime") {
      runtime.fail("unsupported runtime '" + plugin.runtime +
                   "': weir runs plugins on Wasmtime and accepts envoy.wasm.runtime.v8 or "
                   "envoy.wasm.runtime.wasmtime (or no runtime)");
    }
  }
  plugin.vm_configuration = any_configuration_bytes(vm_config.field("configuration"));
  // Only a permission to use precompiled code: weir has none, so it changes nothing.
  if (vm_config.has("allow_precompiled")) vm_config.field("allow_precompiled").as_bool();
  load_code(vm_config.required("code"), plugin);
  if (const ConfigNode nack = vm_config.field("nack_on_code_cache_miss"); nack.present()) {
    const bool value = nack.as_bool();
    if (plugin.code_remote) plugin.code_remote->nack_on_code_cache_miss = value;
  }
  load_environment(vm_config.field("environment_variables"), plugin);
}

}  // namespace

WasmPluginConfig load_wasm_plugin(const ConfigNode& plugin_config) {
  plugin_config.expect_fields(names::kPluginConfig,
                              {"name", "root_id", "vm_config", "configuration", "fail_open",
                               "failure_policy", "allow_on_headers_stop_iteration"});
  WasmPluginConfig plugin;
  if (plugin_config.has("name")) plugin.name = plugin_config.field("name").as_string();
  if (plugin_config.has("root_id")) plugin.root_id = plugin_config.field("root_id").as_string();
  plugin.plugin_configuration = any_configuration_bytes(plugin_config.field("configuration"));

  // failure_policy wins over the deprecated fail_open unless it is UNSPECIFIED, as in Envoy.
  const ConfigNode fail_open = plugin_config.field("fail_open");
  if (fail_open.present() && fail_open.as_bool()) plugin.failure_policy = FailurePolicy::FailOpen;
  const ConfigNode failure_policy = plugin_config.field("failure_policy");
  if (failure_policy.present()) {
    const auto policy = failure_policy.as_enum<std::optional<FailurePolicy>>({
        {"UNSPECIFIED", std::nullopt},
        {"FAIL_CLOSED", FailurePolicy::FailClosed},
        {"FAIL_RELOAD", FailurePolicy::FailReload},
        {"FAIL_OPEN", FailurePolicy::FailOpen},
    });
    if (policy) plugin.failure_policy = *policy;
  }
  // A google.protobuf.BoolValue, whose JSON (and YAML) form is the bare bool.
  const ConfigNode allow_stop = plugin_config.field("allow_on_headers_stop_iteration");
  if (allow_stop.present()) plugin.allow_on_headers_stop_iteration = allow_stop.as_bool();

  load_vm_config(plugin_config.required("vm_config"), plugin);
  return plugin;
}

void resolve_remote_code_clusters(BootstrapConfig& config) {
  auto resolve = [&](WasmPluginConfig& plugin) {
    if (!plugin.code_remote || plugin.code_remote->cluster_name.empty()) return;
    RemoteCodeConfig& remote = *plugin.code_remote;
    for (const ClusterConfig& cluster : config.clusters) {
      if (cluster.name != remote.cluster_name) continue;
      remote.cluster = std::make_shared<const ClusterConfig>(cluster);
      if (cluster.endpoints.empty()) {
        throw LoadError(remote.location.format_message("cluster '" + remote.cluster_name +
                                                       "' of http_uri has no endpoint"));
      }
      return;
    }
    throw LoadError(remote.location.format_message("http_uri names an unknown cluster '" +
                                                   remote.cluster_name + "'"));
  };
  for (ListenerConfig& listener : config.listeners) {
    for (HttpFilterConfig& filter : listener.http.http_filters) {
      if (filter.kind == HttpFilterConfig::Kind::Wasm) resolve(filter.wasm);
    }
    for (WasmPluginConfig& plugin : listener.network_wasm_filters) resolve(plugin);
  }
  for (WasmPluginConfig& service : config.wasm_services) resolve(service);
}

}  // namespace weir::config
