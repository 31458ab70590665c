#include "proxy_wasm/grpc_service.h"

#include <cstdint>

namespace weir::proxy_wasm {

namespace {

// A protobuf reader over one message's bytes: fields one at a time, every length checked.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : in_(bytes) {}
  bool done() const { return in_.empty(); }

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;  // more than 10 bytes
  }
  // The next field's number and wire type.
  bool tag(uint32_t& field, uint32_t& wire_type) {
    uint64_t t = 0;
    if (!varint(t)) return false;
    field = static_cast<uint32_t>(t >> 3);
    wire_type = static_cast<uint32_t>(t & 7);
    return field != 0 && (t >> 3) <= 0x1fffffff;
  }
  bool bytes(std::string_view& out) {
    uint64_t n = 0;
    if (!varint(n) || n > in_.size()) return false;
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  // Skips a field of `wire_type` (groups, 3 and 4, are refused: GrpcService has none).
  bool skip(uint32_t wire_type) {
    uint64_t v = 0;
    std::string_view s;
    switch (wire_type) {
      case 0:
        return varint(v);
      case 1:
        return advance(8);
      case 2:
        return bytes(s);
      case 5:
        return advance(4);
      default:
        return false;
    }
  }

 private:
  bool advance(size_t n) {
    if (in_.size() < n) return false;
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

// A message whose fields 1 and 2 are strings (others skipped): GrpcService.EnvoyGrpc
// (cluster_name, authority) and envoy.config.core.v3.HeaderValue (key, value).
bool read_string_pair(std::string_view bytes, std::string& first, std::string& second) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t field = 0, type = 0;
    if (!r.tag(field, type)) return false;
    std::string_view s;
    if ((field == 1 || field == 2) && type == 2) {
      if (!r.bytes(s)) return false;
      (field == 1 ? first : second).assign(s);
    } else if (!r.skip(type)) {
      return false;
    }
  }
  return true;
}

// google.protobuf.Duration: 1 seconds, 2 nanos; rounded up to milliseconds.
bool read_duration(std::string_view bytes, std::chrono::milliseconds& out) {
  Reader r(bytes);
  uint64_t seconds = 0, nanos = 0;
  while (!r.done()) {
    uint32_t field = 0, type = 0;
    if (!r.tag(field, type)) return false;
    if ((field == 1 || field == 2) && type == 0) {
      if (!r.varint(field == 1 ? seconds : nanos)) return false;
    } else if (!r.skip(type)) {
      return false;
    }
  }
  // Negative or absurd values (a signed varint with the top bit set) give no timeout.
  if (seconds > 315576000000ull || nanos > 999999999) return true;
  out = std::chrono::milliseconds(seconds * 1000 + (nanos + 999999) / 1000000);
  return true;
}

}  // namespace

std::optional<GrpcServiceTarget> decode_grpc_service(std::string_view bytes) {
  // GrpcService: 1 envoy_grpc, 2 google_grpc, 3 timeout, 5 initial_metadata.
  GrpcServiceTarget out;
  bool envoy_grpc = false;
  Reader r(bytes);
  while (!r.done()) {
    uint32_t field = 0, type = 0;
    if (!r.tag(field, type)) return std::nullopt;
    std::string_view s;
    if (type == 2 && (field == 1 || field == 3 || field == 5)) {
      if (!r.bytes(s)) return std::nullopt;
      if (field == 1) {
        envoy_grpc = true;
        if (!read_string_pair(s, out.cluster, out.authority)) return std::nullopt;
      } else if (field == 3) {
        if (!read_duration(s, out.timeout)) return std::nullopt;
      } else {
        std::pair<std::string, std::string> header;
        if (!read_string_pair(s, header.first, header.second)) return std::nullopt;
        out.initial_metadata.push_back(std::move(header));
      }
    } else if (!r.skip(type)) {
      return std::nullopt;
    }
  }
  if (!envoy_grpc || out.cluster.empty()) return std::nullopt;
  return out;
}

}  // namespace weir::proxy_wasm
