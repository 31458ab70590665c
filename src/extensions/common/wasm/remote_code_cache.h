#pragma once
// Plugin code fetched from elsewhere (code.remote, OCI blobs), kept on disk by its sha256 so
// that a second start works with the server gone. It lives in `remote/` under the compiled-
// code cache directory (--code-cache-dir; empty: no cache). A file is used only when its
// bytes still hash to its name.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::extensions::wasm {

// Called once by main() before loading (the compiled-code cache's directory).
void set_remote_code_cache_dir(const std::string& code_cache_dir);

// The sha256 of `bytes`, lower-case hex.
std::string sha256_hex(std::string_view bytes);

class RemoteCodeCache {
 public:
  // The bytes stored under `sha256_hex`, when present and intact.
  static std::optional<std::string> get(const std::string& sha256_hex);
  // Best effort (a failure is logged): the bytes must hash to `sha256_hex`.
  static void put(const std::string& sha256_hex, std::string_view bytes);
  // How many modules, manifests and layers are stored.
  static int64_t entries();
  // Small named records (an OCI tag's last digest), not content-addressed.
  static std::optional<std::string> get_note(const std::string& key);
  static void put_note(const std::string& key, std::string_view value);
};

}  // namespace weir::extensions::wasm
