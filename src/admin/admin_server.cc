#include "admin/admin_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "http/http1_parser.h"
#include "http/http1_writer.h"
#include "net/connection.h"
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
    "  /help: print out list of admin commands\n"
    "  /quitquitquit (POST): exit the server\n"
    "  /ready: print server state, return 200 if LIVE, otherwise return 503\n"
    "  /server_info: print server version/status information\n"
    "  /stats: print server stats\n"
    "      filter: Regular expression (ecmascript) for filtering stats\n"
    "      format: Format to use (text, json)\n"
    "      usedonly: Only include stats that have been written by system since restart\n";

}  // namespace

// One admin client connection; requests are answered one at a time.
class AdminServer::Session : public net::Connection::Handler, public http::Http1Visitor {
 public:
  Session(AdminServer& server, int fd)
      : server_(server), connection_(server.loop_, fd, false),
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
    respond(server_.handle(method_, path_), keep_alive_);
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
  net::Connection connection_;
  http::Http1Parser parser_;
  std::string method_, path_;
  bool keep_alive_ = true;
  bool closed_ = false;
};

AdminServer::AdminServer(event::EventLoop& loop, int listen_fd, AdminContext context)
    : loop_(loop), listen_fd_(listen_fd), context_(std::move(context)) {
  if (listen_fd_ >= 0) loop_.watch_shared_listener(listen_fd_, [this](uint32_t) { accept_all(); });
}

AdminServer::~AdminServer() {
  if (listen_fd_ >= 0) {
    loop_.unwatch(listen_fd_);
    close(listen_fd_);
  }
  sessions_.clear();
}

void AdminServer::accept_all() {
  for (int i = 0; i < 16; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    auto session = std::make_unique<Session>(*this, fd);
    auto* raw = session.get();
    sessions_.emplace(raw, std::move(session));
  }
}

AdminResponse AdminServer::handle(std::string_view method, std::string_view path_and_query) {
  auto q = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, q);
  auto params = parse_query(q == std::string_view::npos ? "" : path_and_query.substr(q + 1));

  if (path == "/stats") {
    stats::RenderOptions options;
    options.used_only = params.count("usedonly") > 0;
    if (auto it = params.find("filter"); it != params.end() && !it->second.empty()) {
      try {
        options.filter.emplace(it->second, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        return {400, "text/plain", "Invalid regex: " + std::string(e.what()) + "\n"};
      }
    }
    auto snapshot = context_.stats.snapshot();
    if (auto it = params.find("format"); it != params.end() && it->second == "json") {
      return {200, "application/json", stats::render_json(snapshot, options)};
    }
    return {200, "text/plain; charset=UTF-8", stats::render_text(snapshot, options)};
  }
  if (path == "/ready") return {200, "text/plain; charset=UTF-8", "LIVE\n"};
  if (path == "/server_info") {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - context_.start_time)
                      .count();
    std::string body = "{\"version\":\"weir/" WEIR_VERSION "\",\"state\":\"LIVE\",\"uptime_current_epoch\":\"" +
                       std::to_string(uptime) + "s\",\"command_line_options\":{\"concurrency\":" +
                       std::to_string(context_.concurrency) + "}}\n";
    return {200, "application/json", body};
  }
  if (path == "/help" || path == "/") return {200, "text/plain; charset=UTF-8", kHelp};
  if (path == "/quitquitquit") {
    if (method != "POST") return {405, "text/plain", "This endpoint requires POST\n"};
    if (context_.quit) loop_.defer(context_.quit);
    return {200, "text/plain", "OK\n"};
  }
  return {404, "text/plain; charset=UTF-8", std::string("invalid path. ") + kHelp};
}

}  // namespace weir::admin
