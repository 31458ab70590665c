#include "wasm/engine/code_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace weir::wasm {

namespace {

// Entry layout: magic, format version, key, payload size (little-endian), payload sha256,
// payload.
constexpr char kMagic[8] = {'W', 'E', 'I', 'R', 'C', 'O', 'D', 'E'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = sizeof kMagic + 4 + 32 + 8 + 32;
// Far above any plugin's code; a bigger file is not read.
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 30;

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get_le(const uint8_t* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{in[i]} << (8 * i);
  return value;
}

// mkdir -p with mode 0700 for what it creates.
bool make_directories(const std::string& dir) {
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string prefix = dir.substr(0, at);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool write_all(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

CodeCache::CodeCache(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {
  if (dir_.empty()) return;
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (!make_directories(dir_)) {
    spdlog::warn("wasm code cache off: cannot create '{}': {}", dir_, std::strerror(errno));
    return;
  }
  struct stat st {};
  if (stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    spdlog::warn("wasm code cache off: '{}' is not a directory", dir_);
    return;
  }
  // Whoever can write here can make weir run their machine code.
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    spdlog::warn(
        "wasm code cache off: '{}' must belong to this user and be writable by no one else "
        "(it holds machine code weir runs)",
        dir_);
    return;
  }
  enabled_ = true;
}

std::string CodeCache::path_for(const Sha256& key) const {
  return dir_ + "/" + to_hex(key) + ".cwasm";
}

std::optional<std::vector<uint8_t>> CodeCache::load(const Sha256& key) const {
  if (!enabled_) return std::nullopt;
  const std::string path = path_for(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno != ENOENT) {
      spdlog::debug("wasm code cache: cannot open {}: {}", path, strerror(errno));
    }
    return std::nullopt;
  }
  auto reject = [&](const char* why) -> std::optional<std::vector<uint8_t>> {
    ::close(fd);
    spdlog::debug("wasm code cache: ignoring {}: {}", path, why);
    return std::nullopt;
  };
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return reject("not a regular file");
  if (static_cast<uint64_t>(st.st_size) < kHeaderSize ||
      static_cast<uint64_t>(st.st_size) > kHeaderSize + kMaxPayloadBytes) {
    return reject("wrong size");
  }
  std::vector<uint8_t> file(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < file.size()) {
    ssize_t n = ::read(fd, file.data() + got, file.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != file.size()) return reject("short read");
  ::close(fd);
  fd = -1;
  auto ignore = [&](const char* why) -> std::optional<std::vector<uint8_t>> {
    spdlog::debug("wasm code cache: ignoring {}: {}", path, why);
    return std::nullopt;
  };
  const uint8_t* at = file.data();
  if (std::memcmp(at, kMagic, sizeof kMagic) != 0) return ignore("not a weir code-cache entry");
  at += sizeof kMagic;
  if (get_le(at, 4) != kFormatVersion) return ignore("another format version");
  at += 4;
  if (std::memcmp(at, key.data(), key.size()) != 0) return ignore("written for another key");
  at += key.size();
  const uint64_t size = get_le(at, 8);
  at += 8;
  if (size != file.size() - kHeaderSize) return ignore("truncated or padded");
  Sha256 recorded;
  std::memcpy(recorded.data(), at, recorded.size());
  at += recorded.size();
  std::span<const uint8_t> payload(at, static_cast<size_t>(size));
  if (sha256({payload}) != recorded) return ignore("checksum mismatch (corrupt)");
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used: pruned last
  return std::vector<uint8_t>(payload.begin(), payload.end());
}

void CodeCache::store(const Sha256& key, std::span<const uint8_t> payload) const {
  if (!enabled_ || payload.size() > kMaxPayloadBytes) return;
  std::vector<uint8_t> header;
  header.reserve(kHeaderSize);
  header.insert(header.end(), kMagic, kMagic + sizeof kMagic);
  put_le(header, kFormatVersion, 4);
  header.insert(header.end(), key.begin(), key.end());
  put_le(header, payload.size(), 8);
  Sha256 digest = sha256({payload});
  header.insert(header.end(), digest.begin(), digest.end());

  const std::string path = path_for(key);
  std::string temporary = dir_ + "/.tmp-" + to_hex(key).substr(0, 16) + "-XXXXXX";
  int fd = mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("wasm code cache: cannot write in '{}': {}", dir_, std::strerror(errno));
    return;
  }
  bool ok = fchmod(fd, 0600) == 0 && write_all(fd, header) && write_all(fd, payload);
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    spdlog::warn("wasm code cache: cannot write {}: {}", path, std::strerror(errno));
    ::unlink(temporary.c_str());
    return;
  }
  spdlog::debug("wasm code cache: stored {} ({} bytes)", path, payload.size());
  prune();
}

void CodeCache::prune() const {
  struct Entry {
    std::filesystem::path path;
    std::filesystem::file_time_type used;
    uint64_t size;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code error;
  const auto stale_before = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& item : std::filesystem::directory_iterator(dir_, error)) {
    const std::string name = item.path().filename().string();
    std::error_code item_error;
    const auto used = item.last_write_time(item_error);
    if (item_error || !item.is_regular_file(item_error)) continue;
    if (name.starts_with(".tmp-")) {
      if (used < stale_before) std::filesystem::remove(item.path(), item_error);
      continue;
    }
    if (!name.ends_with(".cwasm")) continue;
    const uint64_t size = item.file_size(item_error);
    if (item_error) continue;
    entries.push_back({item.path(), used, size});
    total += size;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.used < b.used; });
  for (const Entry& entry : entries) {
    if (total <= max_bytes_) break;
    std::error_code remove_error;
    if (std::filesystem::remove(entry.path, remove_error)) {
      total -= entry.size;
      spdlog::debug("wasm code cache: removed {} (least recently used)", entry.path.string());
    }
  }
}

}  // namespace weir::wasm
