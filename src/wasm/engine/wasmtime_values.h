#pragma once
// weir Values to and from Wasmtime's untyped raw values (unchecked calls).
#include <wasmtime.h>

#include "wasm/engine/engine.h"

namespace weir::wasm::wt {

inline wasmtime_val_raw_t to_raw(const Value& value) {
  wasmtime_val_raw_t raw{};
  switch (value.type) {
    case ValType::I32:
      raw.i32 = value.i32;
      break;
    case ValType::I64:
      raw.i64 = value.i64;
      break;
    case ValType::F32:
      raw.f32 = value.f32;
      break;
    case ValType::F64:
      raw.f64 = value.f64;
      break;
  }
  return raw;
}

inline Value from_raw(const wasmtime_val_raw_t& raw, ValType type) {
  switch (type) {
    case ValType::I32:
      return Value::from_i32(raw.i32);
    case ValType::I64:
      return Value::from_i64(raw.i64);
    case ValType::F32:
      return Value::from_f32(raw.f32);
    case ValType::F64:
      return Value::from_f64(raw.f64);
  }
  return Value{};
}

}  // namespace weir::wasm::wt
