#include "admin/admin_server.h"

#include <netinet/in.h>
#include <spdlog/details/registry.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "admin/clusters_render.h"
#include "common/log_level.h"
#include "config/yaml_to_json.h"
#include "http/http1_parser.h"
#include "http/http1_writer.h"
#include "net/connection.h"
#include "proxy/cluster_manager.h"
#include "stats/stats_render.h"

namespace weir::admin {

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && isxdigit(s[i + 1]) && isxdigit(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::unordered_map<std::string, std::string> parse_query(std::string_view query) {
  std::unordered_map<std::string, std::string> params;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    auto eq = part.find('=');
    std::string key = url_decode(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    if (!key.empty()) params[key] = value;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

constexpr const char* kHelp =
    "admin commands are:\n"
    "  /: Admin home page\n"
    "  /clusters: upstream cluster status\n"
    "      format: Format to use (text, json)\n"
    "  /config_dump: dump current Envoy configs\n"
    "  /help: print out list of admin commands\n"
    "  /logging (POST): query/change logging levels\n"
    "      level: desired logging level (trace, debug, info, warning, error, critical, off)\n"
    "  /quitquitquit (POST): exit the server\n"
    "  /reload (POST): load the config file again (weir's; also on SIGHUP and file changes)\n"
    "  /ready: print server state, return 200 if LIVE, otherwise return 503\n"
    "  /server_info: print server version/status information\n"
    "  /stats: print server stats\n"
    "      filter: Regular expression (ecmascript) for filtering stats\n"
    "      format: Format to use (text, json, prometheus)\n"
    "      usedonly: Only include stats that have been written by system since restart\n"
    "  /stats/prometheus: print server stats in prometheus format\n"
    "      filter: Regular expression (ecmascript) for filtering stats\n"
    "      usedonly: Only include stats that have been written by system since restart\n";

constexpr const char* kLoggingUsage =
    "usage: POST /logging?level=<level> (change all levels) or "
    "POST /logging?<logger>=<level> (change one logger)\n"
    "levels: trace debug info warning error critical off\n";

std::string logger_levels() {
  std::string out = "active loggers:\n";
  spdlog::details::registry::instance().apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    auto level = spdlog::level::to_string_view(l->level());
    out += "  " + (l->name().empty() ? std::string("weir") : l->name()) + ": " +
           std::string(level.data(), level.size()) + "\n";
  });
  return out;
}

// Envoy spells "warn" as "warning"; spdlog knows "warn" and "warning".
std::optional<spdlog::level::level_enum> parse_level(const std::string& text) {
  if (text == "warning") return spdlog::level::warn;
  auto level = spdlog::level::from_str(text);
  if (level == spdlog::level::off && text != "off") return std::nullopt;
  return level;
}

bool is_loopback(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (peer.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return peer.ss_family == AF_UNIX;
}

}  // namespace

// One admin client connection; requests are answered one at a time.
class AdminServer::Session : public net::Connection::Handler, public http::Http1Visitor {
 public:
  Session(AdminServer& server, int fd, bool from_loopback, std::shared_ptr<void> admission)
      : server_(server),
        admission_(std::move(admission)),
        from_loopback_(from_loopback),
        connection_(server.loop_, fd, false),
        parser_(http::MessageType::Request, *this) {
    connection_.set_handler(this);
  }
  ~Session() override { connection_.set_handler(nullptr); }

  void on_data(std::string& input) override {
    size_t used = parser_.feed(input);
    input.erase(0, used);
    if (parser_.has_error()) {
      respond({400, "text/plain", "Bad Request\n"}, false);
    }
  }
  void on_close(bool, std::string_view) override {
    if (closed_) return;
    closed_ = true;
    server_.loop_.defer([&server = server_, self = this] { server.sessions_.erase(self); });
  }
  void on_headers(http::HeaderMap& headers, const http::MessageHead& head, bool) override {
    method_ = std::string(headers.get(":method").value_or("GET"));
    path_ = std::string(headers.get(":path").value_or("/"));
    keep_alive_ = head.keep_alive;
  }
  void on_body(std::string_view, bool) override {}
  void on_trailers(http::HeaderMap&) override {}
  void on_message_complete() override {
    respond(server_.handle(method_, path_, from_loopback_), keep_alive_);
  }

 private:
  void respond(const AdminResponse& r, bool keep_alive) {
    http::HeaderMap h;
    h.add(":status", std::to_string(r.status));
    h.add("content-type", r.content_type);
    h.add("content-length", std::to_string(r.body.size()));
    h.add("cache-control", "no-cache, max-age=0");
    h.add("x-content-type-options", "nosniff");
    if (!keep_alive) h.add("connection", "close");
    std::string out;
    http::write_response_head(h, out);
    out += r.body;
    connection_.write(out);
    if (!keep_alive) connection_.close();
  }

  AdminServer& server_;
  std::shared_ptr<void> admission_;  // this connection's share of the connection limits
  bool from_loopback_;
  net::Connection connection_;
  http::Http1Parser parser_;
  std::string method_, path_;
  bool keep_alive_ = true;
  bool closed_ = false;
};

AdminServer::AdminServer(event::EventLoop& loop, int listen_fd, AdminContext context)
    : loop_(loop), listen_fd_(listen_fd), context_(std::move(context)) {
  if (listen_fd_ < 0) return;
  stats::Counter& paused = context_.stats.counter("listener.admin.downstream_cx_accept_paused");
  acceptor_ = std::make_unique<net::Acceptor>(
      loop_, listen_fd_, net::Acceptor::Options{"admin", 16},
      [this](int fd, const net::Address& peer) { on_accept(fd, peer); },
      [&paused](int) { paused.inc(); });
}

AdminServer::~AdminServer() {
  acceptor_.reset();
  if (listen_fd_ >= 0) close(listen_fd_);
  sessions_.clear();
}

void AdminServer::on_accept(int fd, const net::Address& peer) {
  std::shared_ptr<void> admission;
  if (context_.admit_connection) {
    auto admitted = context_.admit_connection();
    if (!admitted) {
      close(fd);
      return;
    }
    admission = std::move(*admitted);
  }
  auto session =
      std::make_unique<Session>(*this, fd, is_loopback(peer.storage), std::move(admission));
  auto* raw = session.get();
  sessions_.emplace(raw, std::move(session));
}

AdminResponse AdminServer::handle(std::string_view method, std::string_view path_and_query,
                                  bool from_loopback) {
  auto q = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, q);
  auto params = parse_query(q == std::string_view::npos ? "" : path_and_query.substr(q + 1));
  const bool is_post = method == "POST";
  auto refuse_remote_write = [&]() -> std::optional<AdminResponse> {
    if (from_loopback || context_.allow_remote_writes) return std::nullopt;
    return AdminResponse{403, "text/plain; charset=UTF-8",
                         "admin: changes are accepted from loopback clients only\n"};
  };

  if (path == "/stats" || path == "/stats/prometheus") {
    stats::RenderOptions options;
    options.used_only = params.count("usedonly") > 0;
    if (auto it = params.find("filter"); it != params.end() && !it->second.empty()) {
      // RE2: an admin query cannot make matching recurse or take more than linear time.
      auto filter = Regex::compile(it->second, Regex::kUnboundedProgramSize);
      if (!filter) return {400, "text/plain", "Invalid regex: " + filter.error() + "\n"};
      options.filter = std::move(*filter);
    }
    auto snapshot = context_.stats.snapshot();
    std::string format = path == "/stats/prometheus" ? "prometheus" : "text";
    if (auto it = params.find("format"); it != params.end()) format = it->second;
    if (format == "prometheus") {
      const auto& tags = context_.tags ? *context_.tags : stats::TagExtractor::envoy_defaults();
      return {200, "text/plain; version=0.0.4; charset=UTF-8",
              stats::render_prometheus(snapshot, options, tags)};
    }
    if (format == "json") return {200, "application/json", stats::render_json(snapshot, options)};
    if (format != "text") {
      return {400, "text/plain", "usage: /stats?format=(text|json|prometheus)\n"};
    }
    return {200, "text/plain; charset=UTF-8", stats::render_text(snapshot, options)};
  }
  if (path == "/ready") {
    if (context_.draining && context_.draining()) {
      return {503, "text/plain; charset=UTF-8", "DRAINING\n"};
    }
    return {200, "text/plain; charset=UTF-8", "LIVE\n"};
  }
  if (path == "/server_info") {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - context_.start_time)
                      .count();
    bool draining = context_.draining && context_.draining();
    auto level = spdlog::level::to_string_view(spdlog::get_level());
    std::string body =
        std::string("{\"version\":\"weir/") + WEIR_VERSION + "\",\"state\":\"" +
        (draining ? "DRAINING" : "LIVE") +
        "\",\"hot_restart_version\":\"disabled\",\"command_line_options\":{" +
        "\"concurrency\":" + std::to_string(context_.concurrency) + ",\"log_level\":\"" +
        std::string(level.data(), level.size()) +
        "\",\"mode\":\"Serve\",\"config_path\":" + config::json_quote(context_.config_path) +
        "},\"node\":{}," + "\"uptime_current_epoch\":\"" + std::to_string(uptime) +
        "s\",\"uptime_all_epochs\":\"" + std::to_string(uptime) + "s\"}\n";
    return {200, "application/json", body};
  }
  if (path == "/clusters") {
    if (!context_.clusters) return {200, "text/plain; charset=UTF-8", ""};
    if (auto it = params.find("format"); it != params.end() && it->second == "json") {
      return {200, "application/json", render_clusters_json(*context_.clusters)};
    }
    return {200, "text/plain; charset=UTF-8", render_clusters_text(*context_.clusters)};
  }
  if (path == "/config_dump") {
    return {200, "application/json",
            context_.config_dump.empty() ? "{\"configs\":[]}\n" : context_.config_dump};
  }
  if (path == "/logging") {
    if (params.empty()) return {200, "text/plain; charset=UTF-8", logger_levels()};
    if (!is_post) return {405, "text/plain", "This endpoint requires POST\n"};
    if (auto refused = refuse_remote_write()) return *refused;
    for (const auto& [name, value] : params) {
      auto level = parse_level(value);
      if (!level) return {400, "text/plain; charset=UTF-8", kLoggingUsage};
      if (name == "level" || name == "weir") {
        set_log_level(*level);
      } else if (auto logger = spdlog::get(name)) {
        logger->set_level(*level);
      } else {
        return {404, "text/plain; charset=UTF-8",
                "unknown logger \"" + name + "\"\n" + kLoggingUsage};
      }
    }
    spdlog::info("admin: log level changed by /logging");
    return {200, "text/plain; charset=UTF-8", logger_levels()};
  }
  if (path == "/help" || path == "/") return {200, "text/plain; charset=UTF-8", kHelp};
  if (path == "/reload") {
    if (!is_post) return {405, "text/plain", "This endpoint requires POST\n"};
    if (auto refused = refuse_remote_write()) return *refused;
    if (!context_.reload) return {404, "text/plain; charset=UTF-8", "reload is not available\n"};
    Status reloaded = context_.reload();
    if (!reloaded) {
      return {
          500, "text/plain; charset=UTF-8",
          "reload failed, the previous configuration keeps serving: " + reloaded.error() + "\n"};
    }
    return {200, "text/plain", "OK\n"};
  }
  if (path == "/quitquitquit") {
    if (!is_post) return {405, "text/plain", "This endpoint requires POST\n"};
    if (auto refused = refuse_remote_write()) return *refused;
    if (context_.quit) loop_.defer(context_.quit);
    return {200, "text/plain", "OK\n"};
  }
  return {404, "text/plain; charset=UTF-8", std::string("invalid path. ") + kHelp};
}

}  // namespace weir::admin
