#pragma once
// Framing of Redis replies (RESP2, and RESP3's types): where one whole reply ends, so a
// Higress proxy_redis_call can hand the plugin exactly its raw reply.
#include <cstdint>
#include <string_view>

namespace weir::extensions::wasm {

// The size of the one complete reply at the start of `buf`; 0 if more bytes are needed;
// -1 if it is not RESP (or nests deeper than kMaxRespDepth).
int64_t resp_reply_size(std::string_view buf);
constexpr int kMaxRespDepth = 64;

}  // namespace weir::extensions::wasm
