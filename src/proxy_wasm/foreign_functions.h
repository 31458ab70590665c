#pragma once
// proxy_call_foreign_function: the functions Envoy registers that weir has too
// (Envoy's source/extensions/common/wasm/foreign.cc), with Envoy's argument and result
// formats. Unknown names are NOT_FOUND, as in Envoy.
#include <cstddef>
#include <string>
#include <string_view>

#include "proxy_wasm/types.h"

namespace weir::proxy_wasm {

// Bound on what "uncompress" produces: Envoy's has none (it doubles its buffer until zlib
// is satisfied), so a small zip bomb from a plugin could make the host allocate gigabytes.
// Past it the call fails with SERIALIZATION_FAILURE, as a bad input does. The host call
// counts toward the plugin call's deadline (100 ms by default) and zlib inflates about
// 250 MB/s here: 4 MiB (16 ms) leaves the plugin its time.
inline constexpr size_t kMaxUncompressedBytes = 4 * 1024 * 1024;
// Bound on what "compress" takes (zlib's default level compresses about 30-100 MB/s):
// more is BAD_ARGUMENT. Envoy has none either.
inline constexpr size_t kMaxCompressInputBytes = 4 * 1024 * 1024;

// Runs foreign function `name` on `args`: OK with `result` set, NOT_FOUND for a name
// weir does not register, or the function's own error.
WasmResult call_foreign_function(std::string_view name, std::string_view args, std::string& result);

}  // namespace weir::proxy_wasm
