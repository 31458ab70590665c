#include "wasm/engine/wasmtime_trap.h"

#include <cstdio>
#include <string_view>

namespace weir::wasm::wt {

namespace {

constexpr size_t kMaxFrames = 32;

std::string_view name_of(const wasm_name_t* name) {
  if (!name || !name->data) return {};
  std::string_view view(name->data, name->size);
  while (!view.empty() && view.back() == '\0') view.remove_suffix(1);
  return view;
}

std::string_view describe(wasmtime_trap_code_t code) {
  switch (code) {
    case WASMTIME_TRAP_CODE_STACK_OVERFLOW:
      return "call stack exhausted";
    case WASMTIME_TRAP_CODE_MEMORY_OUT_OF_BOUNDS:
      return "out-of-bounds memory access";
    case WASMTIME_TRAP_CODE_HEAP_MISALIGNED:
      return "misaligned atomic memory access";
    case WASMTIME_TRAP_CODE_TABLE_OUT_OF_BOUNDS:
      return "out-of-bounds table access";
    case WASMTIME_TRAP_CODE_INDIRECT_CALL_TO_NULL:
      return "indirect call to an uninitialized table element";
    case WASMTIME_TRAP_CODE_BAD_SIGNATURE:
      return "indirect call with the wrong function type";
    case WASMTIME_TRAP_CODE_INTEGER_OVERFLOW:
      return "integer overflow";
    case WASMTIME_TRAP_CODE_INTEGER_DIVISION_BY_ZERO:
      return "integer division by zero";
    case WASMTIME_TRAP_CODE_BAD_CONVERSION_TO_INTEGER:
      return "invalid conversion to integer";
    case WASMTIME_TRAP_CODE_UNREACHABLE_CODE_REACHED:
      return "unreachable executed";
    case WASMTIME_TRAP_CODE_INTERRUPT:
      return "stopped at the call deadline";
    case WASMTIME_TRAP_CODE_NULL_REFERENCE:
      return "null reference";
    case WASMTIME_TRAP_CODE_ALLOCATION_TOO_LARGE:
      return "allocation too large";
    default:
      return {};
  }
}

// Wasmtime's messages are multi-line ("context\n\nCaused by:\n    cause"): the cause is
// what went wrong, the context usually the backtrace weir prints its own way.
std::string one_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.remove_suffix(1);
  if (size_t cause = text.rfind("Caused by:"); cause != std::string_view::npos) {
    std::string_view context = text.substr(0, cause);
    text.remove_prefix(cause + 10);
    if (!context.starts_with("error while executing at wasm backtrace")) {
      std::string combined(context);
      combined += ": ";
      combined += text;
      return one_line(combined);
    }
  }
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string format_frames(const wasm_frame_vec_t& frames) {
  std::string out;
  for (size_t i = 0; i < frames.size && i < kMaxFrames; ++i) {
    const wasm_frame_t* frame = frames.data[i];
    if (!out.empty()) out += ", ";
    out += '#' + std::to_string(i) + ' ';
    std::string_view name = name_of(wasmtime_frame_func_name(frame));
    if (!name.empty()) {
      out += name;
      out += ' ';
    }
    char offset[32];
    std::snprintf(offset, sizeof offset, "@0x%zx", wasm_frame_module_offset(frame));
    out += "(func " + std::to_string(wasm_frame_func_index(frame)) + ' ' + offset + ')';
  }
  if (frames.size > kMaxFrames) {
    out += ", ... " + std::to_string(frames.size - kMaxFrames) + " more";
  }
  return out;
}

}  // namespace

TrapDescription take_trap(wasm_trap_t* trap, std::string host_message) {
  TrapDescription out;
  wasmtime_trap_code_t code;
  if (wasmtime_trap_code(trap, &code)) {
    out.interrupted = code == WASMTIME_TRAP_CODE_INTERRUPT;
    std::string_view text = describe(code);
    out.message = text.empty() ? "wasm trap (code " + std::to_string(code) + ")"
                               : "wasm trap: " + std::string(text);
  } else if (!host_message.empty()) {
    out.message = std::move(host_message);
  } else {
    wasm_message_t message;
    wasm_trap_message(trap, &message);
    out.message = one_line(std::string_view(message.data, message.size));
    wasm_byte_vec_delete(&message);
  }
  wasm_frame_vec_t frames;
  wasm_trap_trace(trap, &frames);
  out.backtrace = format_frames(frames);
  wasm_frame_vec_delete(&frames);
  wasm_trap_delete(trap);
  return out;
}

TrapDescription take_error(wasmtime_error_t* error) {
  TrapDescription out;
  wasm_name_t message;
  wasmtime_error_message(error, &message);
  out.message = one_line(std::string_view(message.data, message.size));
  wasm_byte_vec_delete(&message);
  wasm_frame_vec_t frames;
  wasmtime_error_wasm_trace(error, &frames);
  out.backtrace = format_frames(frames);
  wasm_frame_vec_delete(&frames);
  wasmtime_error_delete(error);
  return out;
}

}  // namespace weir::wasm::wt
