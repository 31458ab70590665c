#include "proxy_wasm/map_serialization.h"

#include <cstring>
#include <string>

namespace weir::proxy_wasm {

namespace {
inline void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
inline uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
}  // namespace

size_t serialized_map_size(const http::HeaderMap& map) {
  size_t n = 4;
  for (const auto& [k, v] : map.entries()) n += 8 + k.size() + v.size() + 2;
  return n;
}

void serialize_map(const http::HeaderMap& map, uint8_t* out) {
  const auto& entries = map.entries();
  put_u32(out, static_cast<uint32_t>(entries.size()));
  uint8_t* sizes = out + 4;
  uint8_t* data = sizes + 8 * entries.size();
  for (const auto& [k, v] : entries) {
    put_u32(sizes, static_cast<uint32_t>(k.size()));
    put_u32(sizes + 4, static_cast<uint32_t>(v.size()));
    sizes += 8;
    if (!k.empty()) std::memcpy(data, k.data(), k.size());
    data += k.size();
    *data++ = 0;
    if (!v.empty()) std::memcpy(data, v.data(), v.size());
    data += v.size();
    *data++ = 0;
  }
}

std::string serialize_map(const http::HeaderMap& map) {
  std::string s(serialized_map_size(map), '\0');
  serialize_map(map, reinterpret_cast<uint8_t*>(s.data()));
  return s;
}

std::optional<std::vector<std::pair<std::string_view, std::string_view>>> parse_map(
    std::string_view data) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  if (data.empty() || (data.size() == 1 && data[0] == 0)) return out;
  if (data.size() < 4) return std::nullopt;
  uint64_t count = get_u32(data.data());
  if (count > (data.size() - 4) / 8) return std::nullopt;
  size_t sizes = 4;
  uint64_t pos = 4 + 8 * count;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t klen = get_u32(data.data() + sizes);
    uint64_t vlen = get_u32(data.data() + sizes + 4);
    sizes += 8;
    if (pos + klen + 1 + vlen > data.size()) return std::nullopt;
    std::string_view k = data.substr(pos, klen);
    pos += klen + 1;  // the separator (NUL; not checked: be lenient)
    std::string_view v = data.substr(pos, vlen);
    pos += vlen;
    // The final NUL may be missing on the last value; anywhere else it must fit.
    if (pos < data.size()) pos += 1;
    out.emplace_back(k, v);
  }
  return out;
}

void append_le64(std::string& out, uint64_t value) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(value >> (8 * i));
  out.append(b, 8);
}

}  // namespace weir::proxy_wasm
