#include "wasm/engine/deferred_start.h"

#include <optional>
#include <unordered_set>

#include "wasm/engine/wasm_byte_reader.h"

namespace weir::wasm {
namespace {

constexpr uint8_t kFunctionExport = 0x00;

struct Section {
  uint8_t id;
  std::span<const uint8_t> whole;    // id, size and content
  std::span<const uint8_t> content;  // what the size counts
};

void append_u32(std::vector<uint8_t>& out, uint32_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out.push_back(byte);
  } while (value != 0);
}

void append_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

Result<std::vector<Section>> split_sections(std::span<const uint8_t> wasm) {
  std::string error;
  ByteReader reader(wasm, 0, &error);
  std::vector<Section> sections;
  if (read_wasm_header(reader)) {
    while (!reader.at_end() && !reader.failed()) {
      size_t start = reader.offset();
      uint8_t id;
      uint32_t size;
      if (!reader.read_byte(id) || !reader.read_u32(size)) break;
      size_t content_start = reader.offset();
      if (!reader.skip(size)) break;
      sections.push_back(
          {id, wasm.subspan(start, reader.offset() - start), wasm.subspan(content_start, size)});
    }
  }
  if (!error.empty()) return Error{error};
  return sections;
}

// The export section's content with one more entry: the start function, under a name no
// other export has.
Result<std::vector<uint8_t>> exports_with_start(const Section* export_section,
                                                uint32_t start_function, std::string& name) {
  std::string error;
  uint32_t count = 0;
  std::span<const uint8_t> entries;
  std::unordered_set<std::string> names;
  if (export_section) {
    ByteReader reader(export_section->content, 0, &error);
    reader.read_count(count, UINT32_MAX - 1, "exports");
    size_t entries_start = reader.offset();
    std::string existing;
    for (uint32_t i = 0; i < count && !reader.failed(); ++i) {
      uint8_t kind;
      uint32_t index;
      if (reader.read_name(existing) && reader.read_byte(kind) && reader.read_u32(index)) {
        names.insert(existing);
      }
    }
    if (!error.empty()) return Error{error};
    entries = export_section->content.subspan(entries_start);
  }
  name = "weir.start";
  for (int suffix = 1; names.count(name); ++suffix) name = "weir.start." + std::to_string(suffix);

  std::vector<uint8_t> content;
  append_u32(content, count + 1);
  append_bytes(content, entries);
  append_u32(content, name.size());
  content.insert(content.end(), name.begin(), name.end());
  content.push_back(kFunctionExport);
  append_u32(content, start_function);
  return content;
}

void append_section(std::vector<uint8_t>& out, uint8_t id, const std::vector<uint8_t>& content) {
  out.push_back(id);
  append_u32(out, content.size());
  append_bytes(out, content);
}

}  // namespace

Result<DeferredStart> defer_start_function(std::span<const uint8_t> wasm, uint32_t start_function) {
  Result<std::vector<Section>> sections = split_sections(wasm);
  if (!sections) return Error{sections.error()};
  const Section* export_section = nullptr;
  for (const Section& section : *sections) {
    if (section.id == kExportSection) export_section = &section;
  }

  DeferredStart deferred;
  Result<std::vector<uint8_t>> exports =
      exports_with_start(export_section, start_function, deferred.export_name);
  if (!exports) return Error{exports.error()};

  std::vector<uint8_t>& out = deferred.wasm;
  out.reserve(wasm.size() + deferred.export_name.size() + 16);
  out.insert(out.end(), std::begin(kWasmHeader), std::end(kWasmHeader));
  bool start_seen = false;
  for (const Section& section : *sections) {
    if (section.id == kExportSection) {
      append_section(out, kExportSection, *exports);
    } else if (section.id == kStartSection) {
      start_seen = true;
      // Sections are ordered by id; without an export section, the new one goes where
      // the start section (the next id) was.
      if (!export_section) append_section(out, kExportSection, *exports);
    } else {
      append_bytes(out, section.whole);
    }
  }
  if (!start_seen) return Error{"module has no start section"};
  return deferred;
}

}  // namespace weir::wasm
