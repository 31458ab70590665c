#include "admin/admin_server.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "common/log_level.h"
#include "event/event_loop.h"
#include "proxy/cluster_manager.h"

namespace weir::admin {
namespace {

class AdminServerTest : public ::testing::Test {
 protected:
  AdminServer make(AdminContext context) { return AdminServer(loop_, -1, std::move(context)); }
  AdminContext context() { return AdminContext{store_, 2, std::chrono::steady_clock::now(), {}}; }

  event::EventLoop loop_;
  stats::StatsStore store_;
};

TEST_F(AdminServerTest, StatsFormats) {
  store_.counter("cluster.a.upstream_rq_total").inc();
  AdminServer admin(loop_, -1, context());
  EXPECT_EQ(admin.handle("GET", "/stats").body, "cluster.a.upstream_rq_total: 1\n");
  auto json = admin.handle("GET", "/stats?format=json");
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_EQ(json.body, "{\"stats\":[{\"name\":\"cluster.a.upstream_rq_total\",\"value\":1}]}\n");
  auto prom = admin.handle("GET", "/stats/prometheus");
  EXPECT_EQ(prom.body,
            "# TYPE envoy_cluster_upstream_rq_total counter\n"
            "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"a\"} 1\n");
  EXPECT_EQ(admin.handle("GET", "/stats?format=prometheus").body, prom.body);
  EXPECT_EQ(admin.handle("GET", "/stats?filter=(").status, 400u);
  EXPECT_EQ(admin.handle("GET", "/stats?format=yaml").status, 400u);
}

TEST_F(AdminServerTest, ReadyFollowsDraining) {
  bool draining = false;
  auto c = context();
  c.draining = [&] { return draining; };
  AdminServer admin(loop_, -1, std::move(c));
  EXPECT_EQ(admin.handle("GET", "/ready").body, "LIVE\n");
  draining = true;
  auto r = admin.handle("GET", "/ready");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "DRAINING\n");
  EXPECT_NE(admin.handle("GET", "/server_info").body.find("\"state\":\"DRAINING\""),
            std::string::npos);
}

TEST_F(AdminServerTest, ServerInfo) {
  AdminServer admin(loop_, -1, context());
  auto r = admin.handle("GET", "/server_info");
  EXPECT_EQ(r.content_type, "application/json");
  for (const char* part : {"\"version\":\"weir/", "\"state\":\"LIVE\"", "\"concurrency\":2",
                           "\"uptime_current_epoch\":\"0s\"", "\"uptime_all_epochs\":\"0s\""}) {
    EXPECT_NE(r.body.find(part), std::string::npos) << part << " in " << r.body;
  }
}

TEST_F(AdminServerTest, WritesOnlyFromLoopback) {
  int quits = 0;
  auto c = context();
  c.quit = [&] { ++quits; };
  AdminServer admin(loop_, -1, std::move(c));
  EXPECT_EQ(admin.handle("GET", "/quitquitquit").status, 405u);
  EXPECT_EQ(admin.handle("POST", "/quitquitquit", false).status, 403u);
  EXPECT_EQ(admin.handle("POST", "/logging?level=debug", false).status, 403u);
  EXPECT_EQ(admin.handle("GET", "/stats", false).status, 200u);  // reads are fine
  EXPECT_EQ(admin.handle("POST", "/quitquitquit", true).status, 200u);
  loop_.run_deferred();
  EXPECT_EQ(quits, 1);
}

TEST_F(AdminServerTest, ReloadNeedsPostFromLoopbackAndReportsFailures) {
  int reloads = 0;
  Status next = Ok{};
  auto c = context();
  c.reload = [&]() -> Status {
    ++reloads;
    return next;
  };
  AdminServer admin(loop_, -1, std::move(c));
  EXPECT_EQ(admin.handle("GET", "/reload").status, 405u);
  EXPECT_EQ(admin.handle("POST", "/reload", false).status, 403u);
  EXPECT_EQ(reloads, 0);
  auto ok = admin.handle("POST", "/reload");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, "OK\n");
  next = Error{"envoy.yaml:3:5: bad"};
  auto failed = admin.handle("POST", "/reload");
  EXPECT_EQ(failed.status, 500u);
  EXPECT_NE(failed.body.find("previous configuration keeps serving: envoy.yaml:3:5: bad"),
            std::string::npos);
  EXPECT_EQ(reloads, 2);
  AdminServer without(loop_, -1, context());
  EXPECT_EQ(without.handle("POST", "/reload").status, 404u);
}

TEST_F(AdminServerTest, RemoteWritesWhenAllowed) {
  auto c = context();
  c.allow_remote_writes = true;
  AdminServer admin(loop_, -1, std::move(c));
  EXPECT_EQ(admin.handle("POST", "/quitquitquit", false).status, 200u);
}

TEST_F(AdminServerTest, LoggingChangesTheLevel) {
  auto before = spdlog::get_level();
  AdminServer admin(loop_, -1, context());
  EXPECT_EQ(admin.handle("GET", "/logging?level=debug").status, 405u);
  auto r = admin.handle("POST", "/logging?level=debug");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_EQ(weir::log_level(), spdlog::level::debug);  // what proxy_log checks
  EXPECT_NE(r.body.find("active loggers:"), std::string::npos);
  admin.handle("POST", "/logging?level=warning");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  EXPECT_EQ(admin.handle("POST", "/logging?level=loud").status, 400u);
  weir::set_log_level(before);
}

TEST_F(AdminServerTest, ClustersInEnvoyTextForm) {
  config::ClusterConfig cluster;
  cluster.name = "mock";
  cluster.endpoints.push_back({"127.0.0.1", 9000});
  auto clusters = proxy::ClusterManager::create({cluster}, store_);
  ASSERT_TRUE(clusters);
  store_.counter("cluster.mock.upstream_rq_total").inc(3);
  store_.counter("cluster.mock.upstream_rq_2xx").inc(2);
  store_.counter("cluster.mock.upstream_rq_5xx").inc(1);
  auto c = context();
  c.clusters = clusters->get();
  AdminServer admin(loop_, -1, std::move(c));
  std::string body = admin.handle("GET", "/clusters").body;
  for (const char* line :
       {"mock::observability_name::mock\n", "mock::default_priority::max_connections::1024\n",
        "mock::127.0.0.1:9000::rq_total::3\n", "mock::127.0.0.1:9000::rq_success::2\n",
        "mock::127.0.0.1:9000::rq_error::1\n", "mock::127.0.0.1:9000::health_flags::healthy\n",
        "mock::127.0.0.1:9000::weight::1\n"}) {
    EXPECT_NE(body.find(line), std::string::npos) << line << " in\n" << body;
  }
  auto json = admin.handle("GET", "/clusters?format=json").body;
  EXPECT_NE(json.find("\"port_value\":9000"), std::string::npos) << json;
}

TEST_F(AdminServerTest, HelpListsEveryEndpoint) {
  AdminServer admin(loop_, -1, context());
  std::string help = admin.handle("GET", "/help").body;
  for (const char* endpoint : {"/clusters", "/config_dump", "/logging", "/quitquitquit", "/ready",
                               "/reload", "/server_info", "/stats", "/stats/prometheus"}) {
    bool listed = help.find(std::string("  ") + endpoint + ":") != std::string::npos ||
                  help.find(std::string("  ") + endpoint + " (POST):") != std::string::npos;
    EXPECT_TRUE(listed) << endpoint;
  }
  EXPECT_EQ(admin.handle("GET", "/nope").status, 404u);
}

}  // namespace
}  // namespace weir::admin
