// The route matcher (proxy::RouteTable) with a fuzzer-chosen route configuration (virtual
// host domains; prefix, path and safe_regex path matchers; header matchers of every kind,
// inverted or not) and a fuzzer-chosen request (:authority, :path, :method, headers).
// Regexes are compiled as the config loader compiles them (RE2, Envoy's program-size
// bound); one that does not compile drops its route, as a config error would.
//
// Beyond not crashing and taking time linear in the request, the match must agree with
// the contract every route entry states: the chosen route belongs to the chosen host, no
// earlier route of that host matches, a route with only `prefix: ""` matches everything,
// and the answer does not change when asked twice.
//
// Input layout: byte 0 = number of routes (mod 8); then per route a kind byte, a flags
// byte and strings; then the request. Strings are a length byte and that many bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/regex.h"
#include "config/config.h"
#include "fuzz_check.h"
#include "http/header_map.h"
#include "proxy/route_table.h"

namespace weir {
namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string string(size_t max = 255) {
    size_t n = byte();
    if (n > max) n = max;
    n = std::min(n, size_ - at_);
    std::string s(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return s;
  }
  // What is left: the request path, so that it can be long.
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(data_ + at_), size_ - at_);
    at_ = size_;
    return s;
  }
  bool done() const { return at_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

RegexPtr compile(const std::string& pattern) {
  auto r = Regex::compile(pattern, Regex::kDefaultMaxProgramSize);
  return r.ok() ? r.value() : nullptr;
}

const char* const kHeaderNames[] = {"x-a", "x-b", ":method", "content-type", "x-A"};

bool read_header_matcher(Reader& in, config::HeaderMatcher& m) {
  const uint8_t kind = in.byte();
  const uint8_t flags = in.byte();
  m.name = kHeaderNames[flags % 5];
  m.invert_match = flags & 8;
  m.treat_missing_as_empty = flags & 16;
  switch (kind % 7) {
    case 0:
      m.kind = config::HeaderMatcher::Kind::Present;
      m.present = flags & 32;
      return true;
    case 1: {
      m.kind = config::HeaderMatcher::Kind::Range;
      m.range_start = static_cast<int8_t>(in.byte()) * 1000;
      m.range_end = static_cast<int8_t>(in.byte()) * 1000;
      return true;
    }
    default: {
      m.kind = config::HeaderMatcher::Kind::String;
      using K = config::StringMatch::Kind;
      const K kinds[] = {K::Exact, K::Prefix, K::Suffix, K::Contains, K::Regex};
      m.string.kind = kinds[(kind / 7) % 5];
      if (m.string.kind == K::Regex) {
        m.string.regex = compile(in.string());
        return m.string.regex != nullptr;
      }
      m.string.value = in.string(32);
      m.string.ignore_case = flags & 64;
      return true;
    }
  }
}

void run(const uint8_t* data, size_t size) {
  Reader in(data, size);
  config::RouteConfiguration rc;
  rc.virtual_hosts.resize(2);
  rc.virtual_hosts[0].name = "exact";
  rc.virtual_hosts[0].domains = {in.string(16), "*.example.com"};
  rc.virtual_hosts[1].name = "any";
  rc.virtual_hosts[1].domains = {"*"};
  const int routes = in.byte() % 8;
  for (int i = 0; i < routes && !in.done(); ++i) {
    config::Route route;
    route.name = "r" + std::to_string(i);
    route.route = config::RouteAction{};
    const uint8_t kind = in.byte();
    const uint8_t flags = in.byte();
    route.match.case_sensitive = !(flags & 1);
    bool ok = true;
    switch (kind % 3) {
      case 0:
        route.match.prefix = in.string(32);
        break;
      case 1:
        route.match.path = in.string(32);
        break;
      default:
        route.match.safe_regex = compile(in.string());
        ok = route.match.safe_regex != nullptr;
        break;
    }
    for (int h = 0; h < ((flags >> 1) & 3) && ok; ++h) {
      config::HeaderMatcher m;
      ok = read_header_matcher(in, m);
      route.match.headers.push_back(std::move(m));
    }
    if (ok) rc.virtual_hosts[flags & 0x80 ? 1 : 0].routes.push_back(std::move(route));
  }
  // The last route of the catch-all host matches every request.
  config::Route fallback;
  fallback.name = "fallback";
  fallback.match.prefix = "";
  fallback.route = config::RouteAction{};
  rc.virtual_hosts[1].routes.push_back(fallback);

  http::HeaderMap request;
  const std::string authority = in.string(64);
  request.add(":authority", authority);
  const std::string method = in.string(16);
  request.add(":method", method);
  const uint8_t header_count = in.byte() % 6;
  for (int i = 0; i < header_count; ++i) {
    const std::string name = kHeaderNames[in.byte() % 5];
    request.add(name, in.string(64));
  }
  // The path: whatever is left, up to a request-line's worth.
  std::string path = in.rest();
  if (path.size() > 64 * 1024) path.resize(64 * 1024);
  request.add(":path", path);

  proxy::RouteTable table(rc);
  const config::Route* chosen = table.match(request);
  FUZZ_CHECK(table.match(request) == chosen);
  if (!chosen) return;  // only the first host can miss: the catch-all ends with prefix ""

  // The route belongs to one host, and every route before it in that host misses: with
  // the request's headers, each earlier route would be chosen if it were alone.
  for (const auto& host : rc.virtual_hosts) {
    for (size_t i = 0; i < host.routes.size(); ++i) {
      if (&host.routes[i] != chosen) continue;
      for (size_t j = 0; j < i; ++j) {
        config::RouteConfiguration alone;
        alone.virtual_hosts.push_back(host);
        alone.virtual_hosts[0].routes = {host.routes[j]};
        alone.virtual_hosts[0].domains = {"*"};
        FUZZ_CHECK(proxy::RouteTable(alone).match(request) == nullptr);
      }
      return;
    }
  }
  FUZZ_CHECK(false && "the chosen route is in no host");
}

}  // namespace
}  // namespace weir

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weir::run(data, size);
  return 0;
}
