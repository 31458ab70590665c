#include "access_log/log_format.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace weir::access_log {

namespace {

using Field = LogFormat::Field;

const std::map<std::string_view, Field>& plain_operators() {
  static const auto* const operators = new std::map<std::string_view, Field>{
      {"PROTOCOL", Field::Protocol},
      {"RESPONSE_CODE", Field::ResponseCode},
      {"RESPONSE_CODE_DETAILS", Field::ResponseCodeDetails},
      {"RESPONSE_FLAGS", Field::ResponseFlags},
      {"BYTES_RECEIVED", Field::BytesReceived},
      {"BYTES_SENT", Field::BytesSent},
      {"DURATION", Field::Duration},
      {"UPSTREAM_HOST", Field::UpstreamHost},
      {"UPSTREAM_CLUSTER", Field::UpstreamCluster},
      {"ROUTE_NAME", Field::RouteName},
      {"DOWNSTREAM_REMOTE_ADDRESS", Field::DownstreamRemoteAddress},
      {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Field::DownstreamRemoteAddressWithoutPort},
      {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", Field::DownstreamRemoteAddress},
      {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT", Field::DownstreamRemoteAddressWithoutPort},
      {"DOWNSTREAM_LOCAL_ADDRESS", Field::DownstreamLocalAddress},
      {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Field::DownstreamLocalAddressWithoutPort},
      {"CONNECTION_ID", Field::ConnectionId},
      {"REQUESTED_SERVER_NAME", Field::RequestedServerName},
      {"DOWNSTREAM_TLS_VERSION", Field::DownstreamTlsVersion},
      {"DOWNSTREAM_PEER_SUBJECT", Field::DownstreamPeerSubject},
      {"UPSTREAM_TLS_VERSION", Field::UpstreamTlsVersion},
      {"HOSTNAME", Field::Hostname},
  };
  return *operators;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string join_host_port(const std::string& ip, uint16_t port) {
  if (ip.empty()) return "";
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

// %START_TIME% without a format: 2024-01-31T12:34:56.789Z. With one: strftime plus
// Envoy's %f (fraction of a second, %3f…%9f digits) and %s (epoch seconds).
std::string format_time(std::chrono::system_clock::time_point t, const std::string& format) {
  using namespace std::chrono;
  auto since_epoch = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch);
  auto nanos = duration_cast<nanoseconds>(since_epoch - secs).count();
  time_t tt = static_cast<time_t>(secs.count());
  tm utc{};
  gmtime_r(&tt, &utc);
  std::string spec = format.empty() ? "%Y-%m-%dT%H:%M:%S.%3fZ" : format;
  std::string expanded;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != '%' || i + 1 >= spec.size()) {
      expanded += spec[i];
      continue;
    }
    char next = spec[i + 1];
    if (next == 's') {
      expanded += std::to_string(secs.count());
      ++i;
    } else if (next == 'f' ||
               (next >= '1' && next <= '9' && i + 2 < spec.size() && spec[i + 2] == 'f')) {
      int digits = next == 'f' ? 9 : next - '0';
      char buf[16];
      snprintf(buf, sizeof buf, "%09lld", static_cast<long long>(nanos));
      expanded.append(buf, static_cast<size_t>(digits));
      i += next == 'f' ? 1 : 2;
    } else {
      expanded += spec[i];
      expanded += next;
      ++i;
    }
  }
  char out[256];
  size_t n = strftime(out, sizeof out, expanded.c_str(), &utc);
  return std::string(out, n);
}

const std::string& hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  return name;
}

}  // namespace

Result<LogFormat> LogFormat::parse(std::string_view format) {
  LogFormat result;
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    result.pieces_.push_back({Field::Literal, std::move(literal), "", std::nullopt});
    literal.clear();
  };
  size_t i = 0;
  while (i < format.size()) {
    char c = format[i];
    if (c != '%') {
      literal += c;
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {  // "%%" is a literal '%'
      literal += '%';
      i += 2;
      continue;
    }
    // An operator: NAME, or NAME(ARG), then an optional :MAX_LENGTH, then '%'.
    size_t name_end = i + 1;
    while (name_end < format.size() &&
           (std::isupper(static_cast<unsigned char>(format[name_end])) ||
            std::isdigit(static_cast<unsigned char>(format[name_end])) ||
            format[name_end] == '_')) {
      ++name_end;
    }
    std::string_view name = format.substr(i + 1, name_end - i - 1);
    if (name.empty()) {
      return Error{"access log format: '%' at offset " + std::to_string(i) +
                   " starts no operator (write %% for a literal '%')"};
    }
    Piece piece;
    size_t pos = name_end;
    bool has_argument = pos < format.size() && format[pos] == '(';
    std::string argument;
    if (has_argument) {
      size_t close = format.find(')', pos);
      // START_TIME's strftime argument may itself hold '%': its ')' ends it.
      if (close == std::string_view::npos) {
        return Error{"access log format: operator %" + std::string(name) + "( has no ')'"};
      }
      argument = std::string(format.substr(pos + 1, close - pos - 1));
      pos = close + 1;
    }
    if (pos < format.size() && format[pos] == ':') {
      size_t digits_end = pos + 1;
      while (digits_end < format.size() &&
             std::isdigit(static_cast<unsigned char>(format[digits_end]))) {
        ++digits_end;
      }
      if (digits_end == pos + 1) {
        return Error{"access log format: operator %" + std::string(name) +
                     "% has ':' without a length"};
      }
      piece.max_length = std::stoul(std::string(format.substr(pos + 1, digits_end - pos - 1)));
      pos = digits_end;
    }
    if (pos >= format.size() || format[pos] != '%') {
      return Error{"access log format: operator %" + std::string(name) + " is not closed by '%'"};
    }
    if (name == "REQ" || name == "RESP" || name == "TRAILER") {
      if (!has_argument || argument.empty()) {
        return Error{"access log format: %" + std::string(name) + "% needs a header name: %" +
                     std::string(name) + "(NAME)%"};
      }
      piece.field = name == "REQ"    ? Field::RequestHeader
                    : name == "RESP" ? Field::ResponseHeader
                                     : Field::ResponseTrailer;
      auto question = argument.find('?');
      piece.text = lower(argument.substr(0, question));
      if (question != std::string::npos) piece.alternative = lower(argument.substr(question + 1));
    } else if (name == "START_TIME") {
      piece.field = Field::StartTime;
      piece.text = argument;
    } else if (auto it = plain_operators().find(name);
               it != plain_operators().end() && !has_argument) {
      piece.field = it->second;
    } else {
      return Error{"access log format: weir does not implement the operator %" + std::string(name) +
                   (has_argument ? "(" + argument + ")" : "") + "%"};
    }
    flush_literal();
    result.pieces_.push_back(std::move(piece));
    i = pos + 1;
  }
  flush_literal();
  return result;
}

void LogFormat::format(const LogRecord& r, std::string& out) const {
  const proxy::StreamInfo& info = r.info;
  for (const Piece& piece : pieces_) {
    if (piece.field == Field::Literal) {
      out += piece.text;
      continue;
    }
    std::string value;
    auto header = [&](const http::HeaderMap* map) {
      if (!map) return;
      auto v = map->get(piece.text);
      if (!v && !piece.alternative.empty()) v = map->get(piece.alternative);
      if (v) value = std::string(*v);
    };
    switch (piece.field) {
      case Field::Literal:
        break;
      case Field::RequestHeader:
        header(r.request_headers);
        break;
      case Field::ResponseHeader:
        header(r.response_headers);
        break;
      case Field::ResponseTrailer:
        header(r.response_trailers);
        break;
      case Field::StartTime:
        value = format_time(info.start_time, piece.text);
        break;
      case Field::Protocol:
        value = info.protocol;
        break;
      case Field::ResponseCode:
        value = std::to_string(info.response_code);
        break;
      case Field::ResponseCodeDetails:
        value = info.response_code_details;
        break;
      case Field::ResponseFlags:
        value = "-";
        break;
      case Field::BytesReceived:
        value = std::to_string(info.bytes_received);
        break;
      case Field::BytesSent:
        value = std::to_string(info.bytes_sent);
        break;
      case Field::Duration:
        value = std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count());
        break;
      case Field::UpstreamHost:
        value = info.upstream_host;
        break;
      case Field::UpstreamCluster:
        value = info.cluster_name;
        break;
      case Field::RouteName:
        value = info.route_name;
        break;
      case Field::DownstreamRemoteAddress:
        value = join_host_port(info.downstream_remote_address, info.downstream_remote_port);
        break;
      case Field::DownstreamRemoteAddressWithoutPort:
        value = info.downstream_remote_address;
        break;
      case Field::DownstreamLocalAddress:
        value = join_host_port(info.downstream_local_address, info.downstream_local_port);
        break;
      case Field::DownstreamLocalAddressWithoutPort:
        value = info.downstream_local_address;
        break;
      case Field::ConnectionId:
        value = std::to_string(info.connection_id);
        break;
      case Field::Hostname:
        value = hostname();
        break;
      case Field::RequestedServerName:
        if (info.downstream_tls) value = info.downstream_tls->requested_server_name;
        break;
      case Field::DownstreamTlsVersion:
        if (info.downstream_tls) value = info.downstream_tls->version;
        break;
      case Field::DownstreamPeerSubject:
        if (info.downstream_tls) value = info.downstream_tls->subject_peer_certificate;
        break;
      case Field::UpstreamTlsVersion:
        value = info.upstream_tls_version;
        break;
    }
    if (value.empty()) value = "-";  // Envoy's mark for "no value"
    if (piece.max_length && value.size() > *piece.max_length) value.resize(*piece.max_length);
    out += value;
  }
}

}  // namespace weir::access_log
