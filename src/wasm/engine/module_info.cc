#include "wasm/engine/module_info.h"

#include <optional>
#include <string_view>

#include "wasm/engine/wasm_byte_reader.h"

namespace weir::wasm {
namespace {

// Limits as SpiderMonkey enforces them, so that hostile counts cannot make the reader
// allocate much: every element also needs at least one byte of input.
constexpr uint32_t kMaxTypes = 1'000'000;
constexpr uint32_t kMaxFunctions = 1'000'000;
constexpr uint32_t kMaxImports = 100'000;
constexpr uint32_t kMaxExports = 100'000;
constexpr uint32_t kMaxMemories = 100;
constexpr uint32_t kMaxParams = 1'000;
constexpr uint32_t kMaxResults = 1'000;
// Imports and exports copy their function type; a few types with many params shared by
// many imports could otherwise multiply the input size by a thousand.
constexpr size_t kMaxCopiedValueTypes = 1 << 20;

// A type from the type section. Types that use v128 or references cannot cross the host
// boundary; `unsupported` names the first such value type.
struct DeclaredType {
  FunctionType type;
  std::string_view unsupported;
};

class ModuleReader {
 public:
  Result<ModuleInfo> read(std::span<const uint8_t> wasm) {
    ByteReader reader(wasm, 0, &error_);
    read_module(reader);
    if (!error_.empty()) return Error{error_};
    return std::move(info_);
  }

 private:
  void read_module(ByteReader& reader) {
    if (!read_wasm_header(reader)) return;
    uint32_t seen_sections = 0;
    while (!reader.at_end() && !reader.failed()) {
      uint8_t id;
      uint32_t size;
      if (!reader.read_byte(id) || !reader.read_u32(size)) return;
      std::optional<ByteReader> section = reader.sub_reader(size);
      if (!section) return;
      if (id == kCustomSection) continue;
      if (id > kLastKnownSection) {
        section->fail("unknown section id " + std::to_string(id));
        return;
      }
      if (seen_sections & (1u << id)) {
        section->fail("duplicate section id " + std::to_string(id));
        return;
      }
      seen_sections |= 1u << id;
      if (!read_section(id, *section)) return;
    }
  }

  bool read_section(uint8_t id, ByteReader& section) {
    bool ok = true;
    switch (id) {
      case kTypeSection:
        ok = read_types(section);
        break;
      case kImportSection:
        ok = read_imports(section);
        break;
      case kFunctionSection:
        ok = read_functions(section);
        break;
      case kMemorySection:
        ok = read_memories(section);
        break;
      case kExportSection:
        ok = read_exports(section);
        break;
      case kStartSection: {
        uint32_t index;
        ok = section.read_u32(index);
        info_.start_function = index;
        break;
      }
      default:
        return true;  // not needed: left unread
    }
    if (ok && !section.at_end()) return section.fail("section size mismatch");
    return ok;
  }

  bool read_value_types(ByteReader& r, uint32_t limit, std::vector<ValType>& out,
                        std::string_view& unsupported) {
    uint32_t count;
    if (!r.read_count(count, limit, "params or results")) return false;
    out.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      uint8_t code;
      if (!r.read_byte(code)) return false;
      switch (code) {
        case 0x7f:
          out.push_back(ValType::I32);
          break;
        case 0x7e:
          out.push_back(ValType::I64);
          break;
        case 0x7d:
          out.push_back(ValType::F32);
          break;
        case 0x7c:
          out.push_back(ValType::F64);
          break;
        case 0x7b:
          if (unsupported.empty()) unsupported = "v128";
          break;
        case 0x70:
          if (unsupported.empty()) unsupported = "funcref";
          break;
        case 0x6f:
          if (unsupported.empty()) unsupported = "externref";
          break;
        default:
          return r.fail("unknown value type");
      }
    }
    return true;
  }

  bool read_types(ByteReader& r) {
    uint32_t count;
    if (!r.read_count(count, kMaxTypes, "types")) return false;
    types_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      uint8_t form;
      if (!r.read_byte(form)) return false;
      if (form != 0x60) return r.fail("unsupported type form (only function types are read)");
      DeclaredType& declared = types_.emplace_back();
      if (!read_value_types(r, kMaxParams, declared.type.params, declared.unsupported) ||
          !read_value_types(r, kMaxResults, declared.type.results, declared.unsupported)) {
        return false;
      }
    }
    return true;
  }

  bool read_type_index(ByteReader& r, uint32_t& index) {
    if (!r.read_u32(index)) return false;
    if (index >= types_.size()) return r.fail("type index out of range");
    return true;
  }

  // Accounts for one more copy of `type`, failing when copies would use too much memory.
  bool charge_copy(ByteReader& r, const FunctionType& type) {
    copied_value_types_ += type.params.size() + type.results.size();
    if (copied_value_types_ > kMaxCopiedValueTypes) {
      return r.fail("imports and exports use too many value types");
    }
    return true;
  }

  // Flags: bit 0 = has a maximum, bit 1 = shared (memories only).
  bool read_limits(ByteReader& r, uint8_t max_flags, uint32_t& minimum, bool& shared) {
    uint8_t flags;
    uint32_t maximum;
    shared = false;
    if (!r.read_byte(flags) || !r.read_u32(minimum)) return false;
    if (flags > max_flags) return r.fail("unsupported limits flags");
    if ((flags & 1) && !r.read_u32(maximum)) return false;
    shared = (flags & 2) != 0;
    return true;
  }

  bool read_imports(ByteReader& r) {
    uint32_t count;
    if (!r.read_count(count, kMaxImports, "imports")) return false;
    for (uint32_t i = 0; i < count; ++i) {
      std::string module, name;
      uint8_t kind;
      if (!r.read_name(module) || !r.read_name(name) || !r.read_byte(kind)) return false;
      uint32_t index, unused_minimum;
      uint8_t byte;
      bool unused_shared;
      switch (static_cast<ExternalKind>(kind)) {
        case ExternalKind::Function: {
          if (!read_type_index(r, index)) return false;
          const DeclaredType& declared = types_[index];
          if (!declared.unsupported.empty()) {
            std::string why = "import " + module;
            why.append(".").append(name).append(" uses ").append(declared.unsupported);
            return r.fail(why.append(", which the host cannot pass"));
          }
          if (!charge_copy(r, declared.type)) return false;
          imported_function_types_.push_back(index);
          info_.function_imports.push_back({std::move(module), std::move(name), declared.type});
          continue;
        }
        case ExternalKind::Table:  // element type, limits
          if (!r.read_byte(byte) || !read_limits(r, 1, unused_minimum, unused_shared)) return false;
          break;
        case ExternalKind::Memory:  // limits (shared memories have a maximum, flags 3)
          if (!read_limits(r, 3, unused_minimum, unused_shared)) return false;
          break;
        case ExternalKind::Global:  // value type, mutability
          if (!r.read_byte(byte) || !r.read_byte(byte)) return false;
          break;
        case ExternalKind::Tag:  // attribute, type index
          if (!r.read_byte(byte) || !r.read_u32(index)) return false;
          break;
        default:
          return r.fail("unknown import kind");
      }
      info_.other_imports.push_back(
          {std::move(module), std::move(name), static_cast<ExternalKind>(kind)});
    }
    return true;
  }

  bool read_functions(ByteReader& r) {
    uint32_t count;
    if (!r.read_count(count, kMaxFunctions, "functions")) return false;
    defined_function_types_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t index;
      if (!read_type_index(r, index)) return false;
      defined_function_types_.push_back(index);
    }
    return true;
  }

  bool read_memories(ByteReader& r) {
    uint32_t count;
    if (!r.read_count(count, kMaxMemories, "memories")) return false;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t minimum;
      bool shared = false;
      if (!read_limits(r, 3, minimum, shared)) return false;
      if (i == 0) info_.initial_memory_pages = minimum;
      info_.shared_memory |= shared;
    }
    info_.defines_memory = count > 0;
    return true;
  }

  bool read_exports(ByteReader& r) {
    uint32_t count;
    if (!r.read_count(count, kMaxExports, "exports")) return false;
    for (uint32_t i = 0; i < count; ++i) {
      std::string name;
      uint8_t kind;
      uint32_t index;
      if (!r.read_name(name) || !r.read_byte(kind) || !r.read_u32(index)) return false;
      if (kind > static_cast<uint8_t>(ExternalKind::Tag)) return r.fail("unknown export kind");
      if (kind == static_cast<uint8_t>(ExternalKind::Memory)) {
        info_.memory_exports.push_back(std::move(name));
        continue;
      }
      if (kind != static_cast<uint8_t>(ExternalKind::Function)) continue;
      const DeclaredType* declared = function_type_at(index);
      if (!declared) return r.fail("exported function index out of range");
      if (!declared->unsupported.empty()) continue;  // not callable from the host
      if (!charge_copy(r, declared->type)) return false;
      info_.function_exports.push_back({std::move(name), declared->type});
    }
    return true;
  }

  // The function index space: imported functions first, then the module's own.
  const DeclaredType* function_type_at(uint32_t index) const {
    if (index < imported_function_types_.size()) return &types_[imported_function_types_[index]];
    size_t defined = index - imported_function_types_.size();
    if (defined < defined_function_types_.size()) return &types_[defined_function_types_[defined]];
    return nullptr;
  }

  std::string error_;
  ModuleInfo info_;
  std::vector<DeclaredType> types_;
  // Type indices of the function index space: imported functions, then defined ones.
  std::vector<uint32_t> imported_function_types_;
  std::vector<uint32_t> defined_function_types_;
  size_t copied_value_types_ = 0;
};

}  // namespace

Result<ModuleInfo> read_module_info(std::span<const uint8_t> wasm) {
  return ModuleReader().read(wasm);
}

}  // namespace weir::wasm
