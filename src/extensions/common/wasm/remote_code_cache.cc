#include "extensions/common/wasm/remote_code_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <vector>

#include "wasm/engine/sha256.h"

namespace weir::extensions::wasm {

namespace {

std::string& cache_dir() {
  static std::string dir;
  return dir;
}

bool make_directories(const std::string& dir) {
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    if (mkdir(dir.substr(0, at).c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_atomically(const std::string& path, std::string_view bytes) {
  const std::string dir = cache_dir();
  if (dir.empty() || !make_directories(dir)) return;
  const std::string temporary = dir + "/.tmp-" + std::to_string(getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  while (ok && !bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    spdlog::warn("remote code cache: cannot write {}: {}", path, std::strerror(errno));
    ::unlink(temporary.c_str());
  }
}

bool valid_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Past this, the least recently written entries go (the compiled-code cache has its own
// bound, on its own files).
constexpr uint64_t kMaxCacheBytes = uint64_t{1} << 30;

void prune() {
  struct Entry {
    std::filesystem::path path;
    std::filesystem::file_time_type written;
    uint64_t size;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code error;
  for (const auto& item : std::filesystem::directory_iterator(cache_dir(), error)) {
    std::error_code item_error;
    if (!item.is_regular_file(item_error)) continue;
    const std::string name = item.path().filename().string();
    if (!name.starts_with("sha256-")) continue;
    const auto written = item.last_write_time(item_error);
    const uint64_t size = item.file_size(item_error);
    if (item_error) continue;
    entries.push_back({item.path(), written, size});
    total += size;
  }
  if (total <= kMaxCacheBytes) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.written < b.written; });
  for (const Entry& entry : entries) {
    if (total <= kMaxCacheBytes) break;
    std::error_code remove_error;
    if (std::filesystem::remove(entry.path, remove_error)) total -= entry.size;
  }
}

}  // namespace

void set_remote_code_cache_dir(const std::string& code_cache_dir) {
  cache_dir() = code_cache_dir.empty() ? std::string() : code_cache_dir + "/remote";
}

std::string sha256_hex(std::string_view bytes) {
  return ::weir::wasm::to_hex(::weir::wasm::sha256(
      {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())}));
}

std::optional<std::string> RemoteCodeCache::get(const std::string& hex) {
  if (cache_dir().empty() || !valid_hex(hex)) return std::nullopt;
  const std::string path = cache_dir() + "/sha256-" + hex;
  auto bytes = read_file(path);
  if (!bytes) return std::nullopt;
  if (sha256_hex(*bytes) != hex) {
    spdlog::warn("remote code cache: {} does not match its digest: ignored", path);
    return std::nullopt;
  }
  return bytes;
}

void RemoteCodeCache::put(const std::string& hex, std::string_view bytes) {
  if (cache_dir().empty() || !valid_hex(hex) || sha256_hex(bytes) != hex) return;
  write_atomically(cache_dir() + "/sha256-" + hex, bytes);
  prune();
}

int64_t RemoteCodeCache::entries() {
  if (cache_dir().empty()) return 0;
  int64_t count = 0;
  std::error_code error;
  for (const auto& item : std::filesystem::directory_iterator(cache_dir(), error)) {
    if (item.path().filename().string().starts_with("sha256-")) ++count;
  }
  return count;
}

std::optional<std::string> RemoteCodeCache::get_note(const std::string& key) {
  if (cache_dir().empty()) return std::nullopt;
  return read_file(cache_dir() + "/note-" + sha256_hex(key));
}

void RemoteCodeCache::put_note(const std::string& key, std::string_view value) {
  if (cache_dir().empty()) return;
  write_atomically(cache_dir() + "/note-" + sha256_hex(key), value);
}

}  // namespace weir::extensions::wasm
