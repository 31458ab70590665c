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
  EXPECT_EQ(table.match(request("api.example.com:8080", "/x"))->name, "api");
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
  config::HeaderMatcher m;
  m.name = "x-canary";
  m.exact_match = "1";
  r.match.headers.push_back(m);
  rc.virtual_hosts = {{"all", {"*"}, {r, prefix_route("default", "/")}}};
  RouteTable table(rc);
  auto h = request("x", "/");
  EXPECT_EQ(table.match(h)->name, "default");
  h.add("X-Canary", "1");
  EXPECT_EQ(table.match(h)->name, "canary");
}

}  // namespace
}  // namespace weir::proxy
