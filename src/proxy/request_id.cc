#include "proxy/request_id.h"

#include <array>
#include <cstring>
#include <random>

namespace weir::proxy {

namespace {

// Each byte value's two hex digits: one lookup per byte rather than per digit.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> table{};
  for (int i = 0; i < 256; ++i) {
    table[2 * i] = kHex[i >> 4];
    table[2 * i + 1] = kHex[i & 0xF];
  }
  return table;
}();

// Writes the `digits` (even) lowest hex digits of `v`, most significant first.
inline char* put_hex(char* out, uint64_t v, int digits) {
  for (int i = digits - 2; i >= 0; i -= 2) {
    std::memcpy(out + i, &kHexPairs[2 * (v & 0xFF)], 2);
    v >>= 8;
  }
  return out + digits;
}

}  // namespace

void format_uuid(uint64_t a, uint64_t b, char out[kUuidLength]) {
  char* p = put_hex(out, a >> 32, 8);
  *p++ = '-';
  p = put_hex(p, a >> 16, 4);
  *p++ = '-';
  p = put_hex(p, a, 4);
  *p++ = '-';
  p = put_hex(p, b >> 48, 4);
  *p++ = '-';
  put_hex(p, b, 12);
}

RequestId make_request_id() {
  // Per thread (so per worker): no locking. Seeded with 256 bits from the OS, not one
  // 32-bit draw, so that the seed cannot be searched for from a few observed ids.
  thread_local std::mt19937_64 rng = [] {
    std::random_device os;
    std::seed_seq seed{os(), os(), os(), os(), os(), os(), os(), os()};
    return std::mt19937_64(seed);
  }();
  uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x4000ULL;              // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  RequestId id;
  format_uuid(a, b, id.text.data());
  return id;
}

}  // namespace weir::proxy
