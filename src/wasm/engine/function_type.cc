#include "wasm/engine/function_type.h"

namespace weir::wasm {

bool same_type(const FunctionType& a, const FunctionType& b) {
  return a.params == b.params && a.results == b.results;
}

std::string_view to_string(ValType type) {
  switch (type) {
    case ValType::I32:
      return "i32";
    case ValType::I64:
      return "i64";
    case ValType::F32:
      return "f32";
    case ValType::F64:
      return "f64";
  }
  return "?";
}

namespace {

void append_list(std::string& out, const std::vector<ValType>& types) {
  out += '(';
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) out += ", ";
    out += to_string(types[i]);
  }
  out += ')';
}

}  // namespace

std::string to_string(const FunctionType& type) {
  std::string out;
  append_list(out, type.params);
  out += " -> ";
  append_list(out, type.results);
  return out;
}

}  // namespace weir::wasm
