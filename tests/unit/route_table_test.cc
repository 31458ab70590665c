#include "proxy/route_table.h"

#include <gtest/gtest.h>

namespace weir::proxy {
namespace {

config::Route prefix_route(std::string name, std::string prefix) {
  config::Route r;
  r.name = std::move(name);
  r.match.prefix = std::move(prefix);
  return r;
}

RegexPtr regex(std::string_view pattern) {
  auto compiled = Regex::compile(pattern, Regex::kDefaultMaxProgramSize);
  EXPECT_TRUE(compiled.ok()) << compiled.error();
  return compiled.ok() ? *compiled : nullptr;
}

config::Route regex_route(std::string name, std::string_view pattern) {
  config::Route r;
  r.name = std::move(name);
  r.match.safe_regex = regex(pattern);
  return r;
}

config::HeaderMatcher string_header(std::string name, config::StringMatch::Kind kind,
                                    std::string value) {
  config::HeaderMatcher m;
  m.name = std::move(name);
  m.kind = config::HeaderMatcher::Kind::String;
  m.string.kind = kind;
  if (kind == config::StringMatch::Kind::Regex) {
    m.string.regex = regex(value);
  } else {
    m.string.value = std::move(value);
  }
  return m;
}

http::HeaderMap request(std::string authority, std::string path) {
  http::HeaderMap h;
  h.add(":authority", authority);
  h.add(":path", path);
  return h;
}

TEST(RouteTable, VirtualHostByDomainThenFirstMatchingRoute) {
  config::RouteConfiguration rc;
  config::VirtualHost exact{"exact", {"api.example.com"}, {prefix_route("api", "/")}};
  config::VirtualHost suffix{"suffix", {"*.example.com"}, {prefix_route("wild", "/")}};
  config::VirtualHost any{"any", {"*"}, {}};
  config::Route by_path;
  by_path.name = "path";
  by_path.match.path = "/exact";
  any.routes = {by_path, prefix_route("static", "/static/"), prefix_route("root", "/")};
  rc.virtual_hosts = {any, suffix, exact};
  RouteTable table(rc);
  EXPECT_EQ(table.match(request("api.example.com", "/x"))->name, "api");
  // As Envoy: the port is part of the Host matched (no domain here names port 8080).
  EXPECT_EQ(table.match(request("api.example.com:8080", "/x"))->name, "root");
  EXPECT_EQ(table.match(request("www.example.com:8080", "/x"))->name, "root");
  rc.ignore_port_in_host_matching = true;
  RouteTable ignoring_port(rc);
  EXPECT_EQ(ignoring_port.match(request("api.example.com:8080", "/x"))->name, "api");
  EXPECT_EQ(ignoring_port.match(request("www.example.com:8080", "/x"))->name, "wild");
  EXPECT_EQ(table.match(request("www.example.com", "/x"))->name, "wild");
  EXPECT_EQ(table.match(request("other", "/exact?q=1"))->name, "path");
  EXPECT_EQ(table.match(request("other", "/exactly"))->name, "root");
  EXPECT_EQ(table.match(request("other", "/static/a.css"))->name, "static");
}

TEST(RouteTable, NoMatchingHostOrRoute) {
  config::RouteConfiguration rc;
  rc.virtual_hosts = {{"only", {"a.com"}, {prefix_route("r", "/api")}}};
  RouteTable table(rc);
  EXPECT_EQ(table.match(request("b.com", "/api")), nullptr);
  EXPECT_EQ(table.match(request("a.com", "/other")), nullptr);
}

TEST(RouteTable, HeaderMatchers) {
  config::RouteConfiguration rc;
  config::Route r = prefix_route("canary", "/");
  r.match.headers.push_back(string_header("x-canary", config::StringMatch::Kind::Exact, "1"));
  rc.virtual_hosts = {{"all", {"*"}, {r, prefix_route("default", "/")}}};
  RouteTable table(rc);
  auto h = request("x", "/");
  EXPECT_EQ(table.match(h)->name, "default");
  h.add("X-Canary", "1");
  EXPECT_EQ(table.match(h)->name, "canary");
}

// Envoy's semantics: the regex must match the whole path, which excludes the query
// string and the fragment.
TEST(RouteTable, SafeRegexMatchesTheWholePathWithoutQuery) {
  config::RouteConfiguration rc;
  rc.virtual_hosts = {{"all",
                       {"*"},
                       {regex_route("api", "/api/v[0-9]+/.*"), regex_route("exact", "/x"),
                        prefix_route("fallback", "/")}}};
  RouteTable table(rc);
  EXPECT_EQ(table.match(request("h", "/api/v2/users"))->name, "api");
  EXPECT_EQ(table.match(request("h", "/api/v2/users?debug=1#top"))->name, "api");
  EXPECT_EQ(table.match(request("h", "/x"))->name, "exact");
  EXPECT_EQ(table.match(request("h", "/x?y"))->name, "exact");
  // A partial match is no match: no implicit anchoring is missing.
  EXPECT_EQ(table.match(request("h", "/xx"))->name, "fallback");
  EXPECT_EQ(table.match(request("h", "/prefix/api/v2/users"))->name, "fallback");
  EXPECT_EQ(table.match(request("h", "/api/vX/users"))->name, "fallback");
}

// std::regex recursed per character and crashed on paths of a few tens of KB; RE2 runs
// in linear time without recursion on the input.
TEST(RouteTable, HugePathsMatchWithoutRecursion) {
  config::RouteConfiguration rc;
  rc.virtual_hosts = {
      {"all", {"*"}, {regex_route("api", "/api/(a|b)*.*"), prefix_route("f", "/")}}};
  RouteTable table(rc);
  const std::string path = "/api/" + std::string(1 << 20, 'a');
  EXPECT_EQ(table.match(request("h", path))->name, "api");
  EXPECT_EQ(table.match(request("h", "/x" + std::string(1 << 20, 'a')))->name, "f");
}

TEST(RouteTable, CaseInsensitivePrefixAndPath) {
  config::RouteConfiguration rc;
  config::Route prefix = prefix_route("prefix", "/Admin");
  prefix.match.case_sensitive = false;
  config::Route path;
  path.name = "path";
  path.match.path = "/Login";
  path.match.case_sensitive = false;
  config::Route strict = prefix_route("strict", "/Static");
  rc.virtual_hosts = {{"all", {"*"}, {prefix, path, strict, prefix_route("other", "/")}}};
  RouteTable table(rc);
  EXPECT_EQ(table.match(request("h", "/ADMIN/x"))->name, "prefix");
  EXPECT_EQ(table.match(request("h", "/admin"))->name, "prefix");
  EXPECT_EQ(table.match(request("h", "/lOGIN?next=/"))->name, "path");
  EXPECT_EQ(table.match(request("h", "/static/a"))->name, "other");
  EXPECT_EQ(table.match(request("h", "/Static/a"))->name, "strict");
}

// Each header matcher kind, inverted, with a missing header and with a repeated one.
TEST(RouteTable, HeaderMatcherKindsFollowEnvoy) {
  using Kind = config::StringMatch::Kind;
  auto table_for = [](config::HeaderMatcher matcher) {
    auto rc = std::make_unique<config::RouteConfiguration>();
    config::Route r = prefix_route("hit", "/");
    r.match.headers.push_back(std::move(matcher));
    rc->virtual_hosts = {{"all", {"*"}, {r, prefix_route("miss", "/")}}};
    return rc;
  };
  auto name_for = [](const config::RouteConfiguration& rc, const http::HeaderMap& headers) {
    return RouteTable(rc).match(headers)->name;
  };
  auto with = [](std::vector<std::pair<std::string, std::string>> fields) {
    http::HeaderMap h = request("h", "/");
    for (auto& [k, v] : fields) h.add(k, v);
    return h;
  };

  auto regex_rc = table_for(string_header("x-v", Kind::Regex, "v[0-9]+"));
  EXPECT_EQ(name_for(*regex_rc, with({{"x-v", "v12"}})), "hit");
  EXPECT_EQ(name_for(*regex_rc, with({{"x-v", "v12x"}})), "miss");  // whole value
  EXPECT_EQ(name_for(*regex_rc, with({})), "miss");

  auto suffix_rc = table_for(string_header("x-host", Kind::Suffix, ".internal"));
  EXPECT_EQ(name_for(*suffix_rc, with({{"x-host", "a.internal"}})), "hit");
  EXPECT_EQ(name_for(*suffix_rc, with({{"x-host", "a.INTERNAL"}})), "miss");

  config::HeaderMatcher contains = string_header("x-token", Kind::Contains, "Secret");
  contains.string.ignore_case = true;
  auto contains_rc = table_for(contains);
  EXPECT_EQ(name_for(*contains_rc, with({{"x-token", "my-sECRET-1"}})), "hit");
  EXPECT_EQ(name_for(*contains_rc, with({{"x-token", "public"}})), "miss");

  // A repeated header matches as its values joined with ",".
  auto exact_rc = table_for(string_header("x-role", Kind::Exact, "admin"));
  EXPECT_EQ(name_for(*exact_rc, with({{"x-role", "admin"}})), "hit");
  EXPECT_EQ(name_for(*exact_rc, with({{"x-role", "admin"}, {"x-role", "user"}})), "miss");
  auto joined_rc = table_for(string_header("x-role", Kind::Exact, "admin,user"));
  EXPECT_EQ(name_for(*joined_rc, with({{"x-role", "admin"}, {"X-Role", "user"}})), "hit");

  // Inverted: a present header that does not match fits; a missing one never does.
  config::HeaderMatcher inverted = string_header("x-env", Kind::Exact, "prod");
  inverted.invert_match = true;
  auto inverted_rc = table_for(inverted);
  EXPECT_EQ(name_for(*inverted_rc, with({{"x-env", "dev"}})), "hit");
  EXPECT_EQ(name_for(*inverted_rc, with({{"x-env", "prod"}})), "miss");
  EXPECT_EQ(name_for(*inverted_rc, with({})), "miss");
  // ... unless a missing header counts as empty.
  inverted.treat_missing_as_empty = true;
  auto missing_empty_rc = table_for(inverted);
  EXPECT_EQ(name_for(*missing_empty_rc, with({})), "hit");

  config::HeaderMatcher absent;
  absent.name = "x-debug";
  absent.present = false;
  auto absent_rc = table_for(absent);
  EXPECT_EQ(name_for(*absent_rc, with({})), "hit");
  EXPECT_EQ(name_for(*absent_rc, with({{"x-debug", ""}})), "miss");

  config::HeaderMatcher range;
  range.name = "x-n";
  range.kind = config::HeaderMatcher::Kind::Range;
  range.range_start = -10;
  range.range_end = 10;
  auto range_rc = table_for(range);
  EXPECT_EQ(name_for(*range_rc, with({{"x-n", "-10"}})), "hit");
  EXPECT_EQ(name_for(*range_rc, with({{"x-n", "9"}})), "hit");
  EXPECT_EQ(name_for(*range_rc, with({{"x-n", "10"}})), "miss");  // end excluded
  EXPECT_EQ(name_for(*range_rc, with({{"x-n", "5x"}})), "miss");
  EXPECT_EQ(name_for(*range_rc, with({{"x-n", "99999999999999999999"}})), "miss");
}

}  // namespace
}  // namespace weir::proxy
