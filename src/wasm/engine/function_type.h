#pragma once
// Comparing and printing Wasm function types (for error messages and checks).
#include <string>
#include <string_view>

#include "wasm/engine/engine.h"

namespace weir::wasm {

bool same_type(const FunctionType& a, const FunctionType& b);

std::string_view to_string(ValType type);
std::string to_string(const FunctionType& type);  // e.g. "(i32, i64) -> (i32)"

}  // namespace weir::wasm
