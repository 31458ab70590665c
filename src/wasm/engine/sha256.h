#pragma once
// SHA-256 (OpenSSL's libcrypto), for naming and checking code-cache entries.
#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace weir::wasm {

using Sha256 = std::array<uint8_t, 32>;

// The digest of the concatenation of `parts`.
Sha256 sha256(std::initializer_list<std::span<const uint8_t>> parts);
std::string to_hex(const Sha256& digest);

}  // namespace weir::wasm
