#include "proxy_wasm/foreign_functions.h"

#include <zlib.h>

#include <algorithm>

namespace weir::proxy_wasm {

namespace {

// "compress": zlib's compress() of the arguments (the zlib format, RFC 1950).
WasmResult compress_args(std::string_view args, std::string& result) {
  if (args.size() > kMaxCompressInputBytes) return WasmResult::BadArgument;
  uLongf size = compressBound(static_cast<uLong>(args.size()));
  result.resize(size);
  if (compress(reinterpret_cast<Bytef*>(result.data()), &size,
               reinterpret_cast<const Bytef*>(args.data()),
               static_cast<uLong>(args.size())) != Z_OK) {
    return WasmResult::SerializationFailure;
  }
  result.resize(size);
  return WasmResult::Ok;
}

// "uncompress": zlib's uncompress() of the arguments, streamed so that the output never
// grows past kMaxUncompressedBytes.
WasmResult uncompress_args(std::string_view args, std::string& result) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return WasmResult::InternalFailure;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(args.data()));
  z.avail_in = static_cast<uInt>(args.size());
  result.clear();
  size_t capacity = std::min(kMaxUncompressedBytes, std::max<size_t>(args.size() * 2 + 2, 256));
  int r = Z_OK;
  while (true) {
    result.resize(capacity);
    z.next_out = reinterpret_cast<Bytef*>(result.data() + z.total_out);
    z.avail_out = static_cast<uInt>(capacity - z.total_out);
    r = inflate(&z, Z_FINISH);
    if (r == Z_STREAM_END) break;
    // Z_BUF_ERROR with no output room left: grow; anything else is bad input (a
    // truncated stream also ends here, with room to spare).
    if ((r != Z_BUF_ERROR && r != Z_OK) || z.avail_out != 0) break;
    if (capacity >= kMaxUncompressedBytes) break;
    capacity = std::min(kMaxUncompressedBytes, capacity * 2);
  }
  const size_t produced = z.total_out;
  inflateEnd(&z);
  if (r != Z_STREAM_END) {
    result.clear();
    return WasmResult::SerializationFailure;
  }
  result.resize(produced);
  return WasmResult::Ok;
}

}  // namespace

WasmResult call_foreign_function(std::string_view name, std::string_view args,
                                 std::string& result) {
  if (name == "compress") return compress_args(args, result);
  if (name == "uncompress") return uncompress_args(args, result);
  return WasmResult::NotFound;
}

}  // namespace weir::proxy_wasm
