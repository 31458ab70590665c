#include "http/grpc.h"

namespace weir::http::grpc {

void append_frame(std::string& out, std::string_view message) {
  const auto n = static_cast<uint32_t>(message.size());
  const char prefix[kFrameHeaderBytes] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                                          static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(prefix, kFrameHeaderBytes);
  out.append(message);
}

std::string frame(std::string_view message) {
  std::string out;
  out.reserve(kFrameHeaderBytes + message.size());
  append_frame(out, message);
  return out;
}

FrameDecoder::Result FrameDecoder::next(std::string& message) {
  const size_t available = buffer_.size() - offset_;
  if (available < kFrameHeaderBytes) {
    // Keep the buffer small: drop what was consumed once nothing whole is left.
    buffer_.erase(0, offset_);
    offset_ = 0;
    return Result::NeedMore;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data() + offset_);
  if (p[0] != 0) return Result::Compressed;
  const uint32_t n = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
  if (n > max_) return Result::TooLarge;
  if (available < kFrameHeaderBytes + n) {
    buffer_.erase(0, offset_);
    offset_ = 0;
    return Result::NeedMore;
  }
  message.assign(buffer_, offset_ + kFrameHeaderBytes, n);
  offset_ += kFrameHeaderBytes + n;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return Result::Message;
}

std::string timeout_header(std::chrono::milliseconds timeout) {
  // TimeoutValue is at most 8 digits: milliseconds while they fit, then coarser units,
  // rounded up so the server never gets less time than the client waits.
  uint64_t v = static_cast<uint64_t>(timeout.count());
  constexpr uint64_t kMax = 99999999;
  if (v <= kMax) return std::to_string(v) + "m";
  v = (v + 999) / 1000;
  if (v <= kMax) return std::to_string(v) + "S";
  v = (v + 59) / 60;
  if (v <= kMax) return std::to_string(v) + "M";
  v = (v + 59) / 60;
  return std::to_string(v <= kMax ? v : kMax) + "H";
}

std::optional<uint32_t> parse_status(std::string_view value) {
  if (value.empty() || value.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

std::string decode_message(std::string_view value) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size()) {
      const int hi = hex(value[i + 1]);
      const int lo = hex(value[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(value[i]);
  }
  return out;
}

uint32_t status_from_http(uint32_t http_status) {
  switch (http_status) {
    case 400:
      return code(Status::Internal);
    case 401:
      return code(Status::Unauthenticated);
    case 403:
      return code(Status::PermissionDenied);
    case 404:
      return code(Status::Unimplemented);
    case 429:
    case 502:
    case 503:
    case 504:
      return code(Status::Unavailable);
    default:
      return code(Status::Unknown);
  }
}

CallStatus status_of(const HeaderMap& headers, const HeaderMap* trailers) {
  CallStatus s;
  const auto http_status = headers.get(":status");
  if (http_status && *http_status != "200") {
    const auto n = parse_status(*http_status);
    s.code = status_from_http(n.value_or(0));
    s.message = "HTTP status " + std::string(*http_status);
    return s;
  }
  const HeaderMap& from = trailers ? *trailers : headers;
  const auto status = from.get("grpc-status");
  const auto parsed = status ? parse_status(*status) : std::nullopt;
  if (!parsed) {
    s.code = code(Status::Unknown);
    s.message = status ? "malformed grpc-status" : "the answer has no grpc-status";
    return s;
  }
  s.code = *parsed;
  if (const auto message = from.get("grpc-message")) s.message = decode_message(*message);
  return s;
}

}  // namespace weir::http::grpc
