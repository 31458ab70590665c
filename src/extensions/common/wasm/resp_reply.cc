#include "extensions/common/wasm/resp_reply.h"

namespace weir::extensions::wasm {

namespace {

// Reads the CRLF-ended line after the type byte at `pos`: returns its end (past CRLF), 0
// if incomplete, -1 if malformed.
int64_t line_end(std::string_view buf, size_t pos) {
  size_t cr = buf.find('\r', pos);
  if (cr == std::string_view::npos) return buf.size() - pos > 64 * 1024 ? -1 : 0;
  if (cr + 1 >= buf.size()) return 0;
  if (buf[cr + 1] != '\n') return -1;
  return static_cast<int64_t>(cr + 2);
}

// The integer of a length line ("-1" allowed): false if malformed.
bool parse_length(std::string_view digits, int64_t& out) {
  bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 18) return false;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (negative && v != 1) return false;  // only -1 (null) is a valid negative length
  out = negative ? -1 : v;
  return true;
}

// The end of the reply starting at `pos`, 0 if incomplete, -1 if malformed.
int64_t reply_end(std::string_view buf, size_t pos, int depth) {
  if (depth > kMaxRespDepth) return -1;
  if (pos >= buf.size()) return 0;
  const char type = buf[pos];
  int64_t end = line_end(buf, pos + 1);
  if (end <= 0) return end;
  std::string_view line = buf.substr(pos + 1, static_cast<size_t>(end) - pos - 3);
  switch (type) {
    case '+':  // simple string
    case '-':  // error
    case ':':  // integer
    case '_':  // RESP3 null
    case ',':  // RESP3 double
    case '#':  // RESP3 boolean
    case '(':  // RESP3 big number
      return end;
    case '$':    // bulk string
    case '=':    // RESP3 verbatim string
    case '!': {  // RESP3 bulk error
      int64_t len = 0;
      if (!parse_length(line, len)) return -1;
      if (len < 0) return end;
      const uint64_t need = static_cast<uint64_t>(end) + static_cast<uint64_t>(len) + 2;
      if (need > buf.size()) return 0;
      if (buf[need - 2] != '\r' || buf[need - 1] != '\n') return -1;
      return static_cast<int64_t>(need);
    }
    case '*':    // array
    case '~':    // RESP3 set
    case '>':    // RESP3 push
    case '%':    // RESP3 map: pairs
    case '|': {  // RESP3 attributes: pairs, then the reply they describe
      int64_t count = 0;
      if (!parse_length(line, count)) return -1;
      if (count < 0) return end;
      if (type == '%' || type == '|') count *= 2;
      if (type == '|') ++count;
      int64_t at = end;
      for (int64_t i = 0; i < count; ++i) {
        // Each element takes at least 3 bytes: a count past what is buffered is incomplete.
        if (static_cast<uint64_t>(at) >= buf.size()) return 0;
        at = reply_end(buf, static_cast<size_t>(at), depth + 1);
        if (at <= 0) return at;
      }
      return at;
    }
    default:
      return -1;
  }
}

}  // namespace

int64_t resp_reply_size(std::string_view buf) { return reply_end(buf, 0, 0); }

}  // namespace weir::extensions::wasm
