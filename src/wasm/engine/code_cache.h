#pragma once
// Compiled machine code kept on disk between runs, so an unchanged plugin starts in
// milliseconds instead of seconds. Engine-neutral: it stores and returns bytes.
//
// An entry is only ever handed back whole and for the key it was written for: it carries
// a header with its key and the sha256 of its payload, checked on every load, because the
// engine maps the payload as machine code (deserializing arbitrary bytes is unsafe). A
// mismatched, truncated or corrupt entry is ignored (logged at debug) and rewritten. The
// directory must belong to the user running weir and be writable by no one else (it is
// created 0700); otherwise the cache is off, with a warning. Writes are atomic (a
// temporary file renamed into place), so concurrent writers and crashes leave whole
// entries or none. The directory is bounded: past `max_bytes` of entries, the least
// recently used go (a load counts as a use).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wasm/engine/sha256.h"

namespace weir::wasm {

class CodeCache {
 public:
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{1} << 30;

  // `dir` empty: the cache is off.
  explicit CodeCache(std::string dir, uint64_t max_bytes = kDefaultMaxBytes);

  bool enabled() const { return enabled_; }
  const std::string& dir() const { return dir_; }

  // The payload stored for `key`, if there is a sound entry for it.
  std::optional<std::vector<uint8_t>> load(const Sha256& key) const;
  // Stores `payload` for `key`, replacing any entry. Failures are logged, never fatal.
  void store(const Sha256& key, std::span<const uint8_t> payload) const;

  std::string path_for(const Sha256& key) const;

 private:
  // Removes the least recently used entries past max_bytes_, and temporary files a crashed
  // writer left.
  void prune() const;

  std::string dir_;
  uint64_t max_bytes_;
  bool enabled_ = false;
};

}  // namespace weir::wasm
