#include "server/config_generation.h"

#include <unistd.h>

namespace weir::server {

ListenSocket::~ListenSocket() {
  if (fd >= 0) close(fd);
}

ConfigGeneration::~ConfigGeneration() {
  for (auto& plan : listeners) {
    for (auto& f : plan.filters) f->shutdown();
    for (auto& f : plan.network_filters) f->shutdown();
  }
}

std::vector<std::string> ConfigGeneration::code_files() const { return code_files_of(config); }

std::vector<std::string> code_files_of(const config::BootstrapConfig& config) {
  std::vector<std::string> files;
  auto add = [&files](const config::WasmPluginConfig& plugin) {
    if (!plugin.code_filename.empty()) files.push_back(plugin.code_filename);
  };
  for (const auto& listener : config.listeners) {
    for (const auto& filter : listener.http.http_filters) {
      if (filter.kind == config::HttpFilterConfig::Kind::Wasm) add(filter.wasm);
    }
    for (const auto& filter : listener.network_wasm_filters) add(filter);
  }
  for (const auto& service : config.wasm_services) add(service);
  return files;
}

}  // namespace weir::server
