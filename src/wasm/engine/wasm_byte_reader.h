#pragma once
// Bounds-checked reading of the Wasm binary format: LEB128 integers, names, sections. For
// the module-info reader and the start-section rewriter, which both read untrusted bytes.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weir::wasm {

enum SectionId : uint8_t {
  kCustomSection = 0,
  kTypeSection = 1,
  kImportSection = 2,
  kFunctionSection = 3,
  kMemorySection = 5,
  kExportSection = 7,
  kStartSection = 8,
  kLastKnownSection = 13,  // tag section (exception handling)
};

inline constexpr uint8_t kWasmHeader[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

// Reads one bounded range of bytes. The first failure records its message and offset;
// every read after a failure fails too, so callers may check once per element.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, size_t base_offset, std::string* error)
      : bytes_(bytes), base_offset_(base_offset), error_(error) {}

  bool at_end() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t offset() const { return base_offset_ + pos_; }
  bool failed() const { return !error_->empty(); }

  bool fail(std::string_view what) {
    if (error_->empty()) {
      *error_ = "malformed wasm at offset " + std::to_string(offset()) + ": " + std::string(what);
    }
    return false;
  }

  // Every read sets its output, also on failure, so no caller reads an uninitialized value.
  bool read_byte(uint8_t& out) {
    out = 0;
    if (failed()) return false;
    if (pos_ >= bytes_.size()) return fail("unexpected end");
    out = bytes_[pos_++];
    return true;
  }

  // Unsigned LEB128, at most 5 bytes, unused bits of the last byte zero (as the spec says).
  bool read_u32(uint32_t& out) {
    out = 0;
    uint32_t result = 0;
    for (int i = 0; i < 5; ++i) {
      uint8_t byte;
      if (!read_byte(byte)) return false;
      if (i == 4 && (byte & 0xf0) != 0) return fail("integer too large");
      result |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        out = result;
        return true;
      }
    }
    return fail("integer representation too long");
  }

  // A vector length, at most `limit` and at most the bytes left (each element needs one).
  bool read_count(uint32_t& out, uint32_t limit, std::string_view what) {
    if (!read_u32(out)) return false;
    if (out > limit || out > remaining()) return fail("too many " + std::string(what));
    return true;
  }

  bool read_name(std::string& out) {
    out.clear();
    uint32_t length;
    if (!read_u32(length)) return false;
    if (length > remaining()) return fail("name longer than its section");
    out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return true;
  }

  bool skip(size_t n) {
    if (failed()) return false;
    if (n > remaining()) return fail("unexpected end");
    pos_ += n;
    return true;
  }

  // Splits off the next `n` bytes as a reader of their own, and skips them here.
  std::optional<ByteReader> sub_reader(size_t n) {
    if (failed()) return std::nullopt;
    if (n > remaining()) {
      fail("section runs past the end of the module");
      return std::nullopt;
    }
    ByteReader sub(bytes_.subspan(pos_, n), offset(), error_);
    pos_ += n;
    return sub;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  size_t base_offset_;
  std::string* error_;
};

// Reads the magic number and version.
inline bool read_wasm_header(ByteReader& reader) {
  for (uint8_t expected : kWasmHeader) {
    uint8_t byte;
    if (!reader.read_byte(byte)) return false;
    if (byte != expected) return reader.fail("not a wasm binary (bad magic number or version)");
  }
  return true;
}

}  // namespace weir::wasm
