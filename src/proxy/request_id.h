#pragma once
// x-request-id values: random UUIDv4 strings ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"), as
// Envoy generates them, drawn from a per-thread std::mt19937_64 seeded from the OS's
// random source, and formatted with a lookup table rather than printf (which cost more than
// the rest of the request id and the header it goes in).
#include <array>
#include <cstdint>
#include <string_view>

namespace weir::proxy {

inline constexpr size_t kUuidLength = 36;

// Formats 128 bits as a UUID string (lower-case hex, dashes at 8, 13, 18, 23): `a` gives
// the first 16 hex digits, `b` the last 16. No version or variant bits are set here.
void format_uuid(uint64_t a, uint64_t b, char out[kUuidLength]);

// A fresh random (version 4, RFC 4122 variant) UUID. Returned by value, not as a string:
// it is copied straight into the header map (one allocation fewer per request).
struct RequestId {
  std::array<char, kUuidLength> text;
  std::string_view view() const { return {text.data(), text.size()}; }
};
RequestId make_request_id();

}  // namespace weir::proxy
