#pragma once
// Wasm values as SpiderMonkey's JS API passes them across the Wasm boundary: i32 as Int32,
// i64 as BigInt, f32 and f64 as Number. Inline: these run on every call.
#include <js/BigInt.h>
#include <js/Conversions.h>
#include <js/Value.h>

#include <limits>

#include "wasm/engine/engine.h"

namespace weir::wasm::sm {

// Host -> JS. Only i64 allocates (a BigInt); returns false when that fails (out of memory).
inline bool to_js_value(JSContext* cx, ValType type, const Value& value,
                        JS::MutableHandleValue out) {
  switch (type) {
    case ValType::I32:
      out.setInt32(value.i32);
      return true;
    case ValType::I64: {
      JS::BigInt* big = JS::NumberToBigInt(cx, value.i64);
      if (!big) return false;
      out.setBigInt(big);
      return true;
    }
    case ValType::F32:
      out.set(JS::CanonicalizedDoubleValue(static_cast<double>(value.f32)));
      return true;
    case ValType::F64:
      out.set(JS::CanonicalizedDoubleValue(value.f64));
      return true;
  }
  return false;
}

// JS -> host, for values SpiderMonkey produced from Wasm values of type `type`. Defensive
// about the representation (a Number may be Int32 or Double), never about the type.
inline Value from_js_value(ValType type, const JS::Value& value) {
  auto number = [&value] {
    return value.isNumber() ? value.toNumber() : std::numeric_limits<double>::quiet_NaN();
  };
  switch (type) {
    case ValType::I32:
      return Value::from_i32(value.isInt32() ? value.toInt32() : JS::ToInt32(number()));
    case ValType::I64:
      return Value::from_i64(value.isBigInt() ? JS::ToBigInt64(value.toBigInt()) : 0);
    case ValType::F32:
      return Value::from_f32(static_cast<float>(number()));
    case ValType::F64:
      return Value::from_f64(number());
  }
  return Value();
}

}  // namespace weir::wasm::sm
