#include "extensions/common/wasm/json_value.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace weir::extensions::wasm {

namespace {

constexpr int kMaxDepth = 32;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<JsonValue> document() {
    JsonValue value;
    if (!parse_value(value, 0)) return Error{"malformed JSON at byte " + std::to_string(at_)};
    skip_space();
    if (at_ != text_.size()) return Error{"trailing bytes after the JSON value"};
    return value;
  }

 private:
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) {
      ++at_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t& out) {
    if (at_ + 4 > text_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[at_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  bool parse_string(std::string& out) {
    if (at_ >= text_.size() || text_[at_] != '"') return false;
    ++at_;
    while (at_ < text_.size()) {
      char c = text_[at_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) return false;
      char e = text_[at_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && text_.substr(at_, 2) == "\\u") {
            at_ += 2;
            uint32_t low = 0;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool parse_value(JsonValue& value, int depth) {
    if (depth > kMaxDepth) return false;
    skip_space();
    if (at_ >= text_.size()) return false;
    const char c = text_[at_];
    if (c == '{') {
      ++at_;
      value.type = JsonValue::Type::Object;
      skip_space();
      if (at_ < text_.size() && text_[at_] == '}') return ++at_, true;
      for (;;) {
        skip_space();
        std::string key;
        if (!parse_string(key)) return false;
        skip_space();
        if (at_ >= text_.size() || text_[at_++] != ':') return false;
        JsonValue member;
        if (!parse_value(member, depth + 1)) return false;
        value.object[std::move(key)] = std::move(member);
        skip_space();
        if (at_ >= text_.size()) return false;
        if (text_[at_] == ',') {
          ++at_;
          continue;
        }
        if (text_[at_] == '}') return ++at_, true;
        return false;
      }
    }
    if (c == '[') {
      ++at_;
      value.type = JsonValue::Type::Array;
      skip_space();
      if (at_ < text_.size() && text_[at_] == ']') return ++at_, true;
      for (;;) {
        JsonValue item;
        if (!parse_value(item, depth + 1)) return false;
        value.array.push_back(std::move(item));
        skip_space();
        if (at_ >= text_.size()) return false;
        if (text_[at_] == ',') {
          ++at_;
          continue;
        }
        if (text_[at_] == ']') return ++at_, true;
        return false;
      }
    }
    if (c == '"') {
      value.type = JsonValue::Type::String;
      return parse_string(value.string);
    }
    if (literal("true")) {
      value.type = JsonValue::Type::Bool;
      value.boolean = true;
      return true;
    }
    if (literal("false")) {
      value.type = JsonValue::Type::Bool;
      return true;
    }
    if (literal("null")) return true;
    const size_t start = at_;
    while (at_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[at_])) || text_[at_] == '-' ||
            text_[at_] == '+' || text_[at_] == '.' || text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
    }
    if (at_ == start || at_ - start > 64) return false;
    const std::string number(text_.substr(start, at_ - start));
    char* end = nullptr;
    value.type = JsonValue::Type::Number;
    value.number = std::strtod(number.c_str(), &end);
    return end == number.c_str() + number.size();
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

const JsonValue* JsonValue::get(std::string_view key) const {
  if (type != Type::Object) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &it->second;
}

std::string JsonValue::get_string(std::string_view key) const {
  const JsonValue* v = get(key);
  return v && v->type == Type::String ? v->string : std::string();
}

Result<JsonValue> parse_json(std::string_view text) { return Parser(text).document(); }

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace weir::extensions::wasm
