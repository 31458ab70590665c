#pragma once
// Answering a plugin's proxy_get_property from a stream's facts (proxy::StreamInfo), in
// Envoy's encodings: what the HTTP and the network Wasm filters share.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/http_filter.h"
#include "proxy_wasm/properties.h"

namespace weir::extensions::wasm {

class PropertyAnswer {
 public:
  // `path` is NUL-separated ("source\0address"); answers go to `out`.
  PropertyAnswer(std::string_view path, std::string& out) : path_(path), out_(out) {}

  // Whether the path is `dotted` ("source.address").
  bool is(std::string_view dotted) const {
    if (path_.size() != dotted.size()) return false;
    for (size_t i = 0; i < path_.size(); ++i) {
      if ((path_[i] == '\0' ? '.' : path_[i]) != dotted[i]) return false;
    }
    return true;
  }
  // Each writes its value and returns true (the property exists).
  bool str(std::string_view v) {
    out_.assign(v);
    return true;
  }
  bool num(int64_t v) {
    out_.clear();
    proxy_wasm::encode_int(out_, v);
    return true;
  }
  bool boolean(bool v) {
    out_.clear();
    proxy_wasm::encode_bool(out_, v);
    return true;
  }
  // "ip:port" ("[ip]:port" for IPv6); false (NOT_FOUND) without an address.
  bool address(const std::string& ip, uint16_t port) {
    if (ip.empty()) return false;
    out_ = ip.find(':') != std::string::npos ? "[" + ip + "]:" + std::to_string(port)
                                             : ip + ":" + std::to_string(port);
    return true;
  }

  // The connection's facts every stream has: source.{address,port},
  // destination.{address,port}, connection.id, upstream.{address,port} (once connected).
  // True with the value written; false when the path is none of them or has no value yet.
  bool connection_facts(const proxy::StreamInfo& si) {
    if (is("source.address")) {
      return address(si.downstream_remote_address, si.downstream_remote_port);
    }
    if (is("source.port")) return num(si.downstream_remote_port);
    if (is("destination.address")) {
      return address(si.downstream_local_address, si.downstream_local_port);
    }
    if (is("destination.port")) return num(si.downstream_local_port);
    if (is("connection.id")) return num(static_cast<int64_t>(si.connection_id));
    if (is("upstream.address")) return si.upstream_host.empty() ? false : str(si.upstream_host);
    if (is("upstream.port")) {
      auto colon = si.upstream_host.rfind(':');
      if (colon == std::string::npos) return false;
      return num(std::strtoll(si.upstream_host.c_str() + colon + 1, nullptr, 10));
    }
    return false;
  }

 private:
  std::string_view path_;
  std::string& out_;
};

}  // namespace weir::extensions::wasm
