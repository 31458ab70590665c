// Envoy's envoy.config.core.v3 messages that several parts of the bootstrap use.
#include <arpa/inet.h>

#include <fstream>
#include <iterator>

#include "config/base64.h"
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {

namespace names = envoy_names;

bool is_ip_literal(const std::string& address) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, address.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

ConfigNode address_host_node(const ConfigNode& address) {
  return address.field("socket_address").field("address");
}

SocketAddress load_address(const ConfigNode& address) {
  address.expect_fields(names::kAddress, {"socket_address"});
  const ConfigNode socket_address = address.required("socket_address");
  socket_address.expect_fields(names::kSocketAddress, {"address", "port_value"});
  SocketAddress result;
  result.address = socket_address.required("address").as_nonempty_string();
  result.port = static_cast<uint16_t>(socket_address.required("port_value").as_uint(1, 65535));
  return result;
}

std::string load_data_source(const ConfigNode& data_source) {
  data_source.expect_fields(names::kDataSource, {"filename", "inline_bytes", "inline_string"});
  const ConfigNode filename = data_source.field("filename");
  const ConfigNode inline_bytes = data_source.field("inline_bytes");
  const ConfigNode inline_string = data_source.field("inline_string");
  if (filename.present() + inline_bytes.present() + inline_string.present() > 1) {
    data_source.fail("takes only one of filename, inline_bytes and inline_string");
  }

  if (inline_string.present()) return inline_string.as_string();
  if (inline_bytes.present()) {
    std::optional<std::string> bytes = decode_base64(inline_bytes.as_string());
    if (!bytes) inline_bytes.fail("inline_bytes must be base64");
    return *bytes;
  }
  if (filename.present()) {
    const std::string path = filename.as_nonempty_string();
    std::ifstream file(path, std::ios::binary);
    if (!file) filename.fail("cannot read file \"" + path + "\"");
    // Bounded: a path like /dev/zero or a runaway file must not eat the memory at start-up.
    std::string bytes;
    char chunk[64 * 1024];
    while (bytes.size() <= kMaxDataSourceFileBytes && file.read(chunk, sizeof chunk).gcount() > 0) {
      bytes.append(chunk, static_cast<size_t>(file.gcount()));
    }
    if (file.bad()) filename.fail("cannot read file \"" + path + "\"");
    if (bytes.size() > kMaxDataSourceFileBytes) {
      filename.fail("file \"" + path + "\" is larger than weir reads for a data source (" +
                    std::to_string(kMaxDataSourceFileBytes) + " bytes)");
    }
    return bytes;
  }
  return "";
}

}  // namespace weir::config
