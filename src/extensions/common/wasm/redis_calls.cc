#include "extensions/common/wasm/redis_calls.h"

#include <algorithm>
#include <string>

#include "extensions/common/wasm/resp_reply.h"
#include "net/connection.h"
#include "net/socket.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;

namespace {
void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s);
  out += "\r\n";
}

// What a pooled connection was set up with: a call reuses only a connection of its own key.
std::string pool_key(const pw::RedisRequest& r) {
  std::string key(r.cluster);
  for (std::string_view part : {std::string_view(r.username), std::string_view(r.password)}) {
    key += '\0';
    key += std::to_string(part.size());
    key += ':';
    key.append(part);
  }
  key += '\0';
  key += std::to_string(r.database);
  return key;
}
}  // namespace

// One TCP connection to a Redis endpoint and its pool key. While idle in the pool it is
// its own handler: any byte or a close drops it. Destroyed deferred (it may be destroyed
// from its connection's callbacks); counted in the cluster's upstream_cx_active.
class RedisCalls::Link final : public net::Connection::Handler {
 public:
  Link(RedisCalls& owner, std::unique_ptr<net::Connection> connection, std::string key,
       stats::Gauge& active)
      : owner_(owner), connection_(std::move(connection)), key_(std::move(key)), active_(active) {
    active_.add(1);
  }
  ~Link() override {
    if (connection_) {
      connection_->set_handler(nullptr);
      if (connection_->is_open()) connection_->close(true);
    }
    active_.sub(1);
  }

  net::Connection& connection() { return *connection_; }
  const std::string& key() const { return key_; }
  bool open() const { return connection_->is_open(); }

  // Idle: Redis sends nothing unasked, so bytes mean the connection is out of step.
  void on_data(std::string& input) override {
    input.clear();
    owner_.drop_idle(this);
  }
  void on_close(bool, std::string_view) override { owner_.drop_idle(this); }

 private:
  RedisCalls& owner_;
  std::unique_ptr<net::Connection> connection_;
  std::string key_;
  stats::Gauge& active_;
};

class RedisCalls::Call final : public net::Connection::Handler {
 public:
  Call(RedisCalls& owner, uint64_t id, pw::ClusterCalls::Completion done, uint64_t max_reply)
      : owner_(owner), id_(id), done_(std::move(done)), max_reply_(max_reply) {}
  ~Call() override {
    if (timer_) owner_.loop_.cancel_timer(timer_);
    close_link();
  }

  // `fresh`: a new connection, which needs AUTH / SELECT before the query.
  void start(std::unique_ptr<Link> link, const pw::RedisRequest& r, bool fresh) {
    link_ = std::move(link);
    net::Connection& c = link_->connection();
    c.set_handler(this);
    // The cap on unread input: one byte past the bound shows the reply is too large.
    c.set_buffer_limit(static_cast<uint32_t>(std::min<uint64_t>(max_reply_ + 1, UINT32_MAX - 1)));
    std::string out;
    if (fresh && !r.password.empty()) {
      out += r.username.empty() ? "*2\r\n" : "*3\r\n";
      append_bulk(out, "AUTH");
      if (!r.username.empty()) append_bulk(out, r.username);
      append_bulk(out, r.password);
      ++preamble_replies_;
    }
    if (fresh && r.database != 0) {
      out += "*2\r\n";
      append_bulk(out, "SELECT");
      append_bulk(out, std::to_string(r.database));
      ++preamble_replies_;
    }
    out += r.query;
    c.write(out);
    if (r.timeout.count() > 0) {
      timer_ = owner_.loop_.add_timer(r.timeout, [this] {
        timer_ = 0;
        fail("timeout");
      });
    }
  }

  void on_data(std::string& input) override {
    while (!finished_) {
      int64_t n = resp_reply_size(input);
      if (n < 0) return fail("the reply is not RESP");
      if (n == 0) {
        if (input.size() > max_reply_) return fail("the reply is larger than the limit", true);
        return;
      }
      if (static_cast<uint64_t>(n) > max_reply_) {
        return fail("the reply is larger than the limit", true);
      }
      // A refused AUTH or SELECT is the call's answer: the plugin sees Redis's error (and
      // the connection, in no known state, is closed).
      if (preamble_replies_ > 0 && input[0] != '-') {
        --preamble_replies_;
        input.erase(0, static_cast<size_t>(n));
        continue;
      }
      pw::ClusterResponse response;
      response.ok = true;
      response.body = input.substr(0, static_cast<size_t>(n));
      // Reusable only after exactly one reply to each command sent.
      const bool clean = preamble_replies_ == 0 && input.size() == static_cast<size_t>(n);
      input.clear();
      if (clean && link_ && link_->open()) owner_.put_idle(std::move(link_));
      return complete(std::move(response));
    }
  }
  void on_close(bool by_peer, std::string_view reason) override {
    std::string why = (link_ && link_->connection().connecting() ? "connect failed: "
                       : by_peer                                 ? "closed by Redis: "
                                                                 : "closed: ") +
                      std::string(reason);
    close_link();
    fail(std::move(why));
  }

  void fail(std::string why, bool too_large = false) {
    close_link();  // whatever it was doing, this connection is done
    pw::ClusterResponse response;
    response.failure = std::move(why);
    response.body_too_large = too_large;
    complete(std::move(response));
  }

 private:
  void close_link() {
    if (link_) owner_.loop_.defer_delete(std::move(link_));  // ~Link closes it
  }
  void complete(pw::ClusterResponse response) {
    if (finished_) return;
    finished_ = true;
    owner_.finish(id_, std::move(response));  // deletes this (deferred)
  }

  friend class RedisCalls;
  RedisCalls& owner_;
  uint64_t id_;
  pw::ClusterCalls::Completion done_;
  uint64_t max_reply_;
  std::unique_ptr<Link> link_;
  event::EventLoop::TimerId timer_ = 0;
  int preamble_replies_ = 0;
  bool finished_ = false;
};

RedisCalls::RedisCalls(event::EventLoop& loop, FindCluster find_cluster)
    : loop_(loop), find_cluster_(std::move(find_cluster)) {}

RedisCalls::~RedisCalls() {
  calls_.clear();  // before the pool: a call's link is deferred to the loop
  idle_.clear();
}

size_t RedisCalls::idle_connections() const {
  size_t n = 0;
  for (const auto& [key, links] : idle_) n += links.size();
  return n;
}

std::unique_ptr<RedisCalls::Link> RedisCalls::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  std::unique_ptr<Link> link;
  while (!it->second.empty() && !link) {
    std::unique_ptr<Link> candidate = std::move(it->second.back());
    it->second.pop_back();
    if (candidate->open()) {
      link = std::move(candidate);
    } else {
      loop_.defer_delete(std::move(candidate));  // Redis closed it while idle
    }
  }
  if (it->second.empty()) idle_.erase(it);
  return link;
}

void RedisCalls::put_idle(std::unique_ptr<Link> link) {
  auto& links = idle_[link->key()];
  if (links.size() >= kMaxIdlePerKey) {
    loop_.defer_delete(std::move(link));
    return;
  }
  link->connection().set_handler(link.get());
  links.push_back(std::move(link));
}

void RedisCalls::drop_idle(Link* link) {
  auto it = idle_.find(link->key());
  if (it == idle_.end()) return;
  auto& links = it->second;
  auto pos =
      std::find_if(links.begin(), links.end(), [&](const auto& l) { return l.get() == link; });
  if (pos == links.end()) return;
  loop_.defer_delete(std::move(*pos));  // called from its own connection's callback
  links.erase(pos);
  if (links.empty()) idle_.erase(it);
}

uint64_t RedisCalls::dispatch(const pw::RedisRequest& request, pw::ClusterCalls::Completion done) {
  const proxy::Cluster* cluster = find_cluster_(request.cluster);
  if (!cluster) return 0;
  const uint64_t id = kIdBit | next_id_++;
  auto call = std::make_unique<Call>(*this, id, std::move(done), request.max_reply_bytes);
  Call* c = call.get();
  calls_.emplace(id, std::move(call));
  std::string key = pool_key(request);
  if (std::unique_ptr<Link> link = take_idle(key)) {
    c->start(std::move(link), request, false);
    return id;
  }
  Result<int> fd = Error{"cluster has no endpoints"};
  if (!cluster->endpoints.empty()) {
    const net::Address& addr = cluster->endpoints[next_endpoint_++ % cluster->endpoints.size()];
    fd = net::connect_to(addr);
    if (fd) cluster->stats->upstream_cx_total.inc();
  }
  if (!fd) {
    cluster->stats->upstream_cx_connect_fail.inc();
    // `done` must not run inside dispatch.
    std::string why = "connect failed: " + fd.error();
    loop_.defer([this, id, why] {
      if (auto it = calls_.find(id); it != calls_.end()) it->second->fail(why);
    });
    return id;
  }
  c->start(std::make_unique<Link>(*this, std::make_unique<net::Connection>(loop_, *fd, true),
                                  std::move(key), cluster->stats->upstream_cx_active),
           request, true);
  return id;
}

void RedisCalls::cancel(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::unique_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  loop_.defer_delete(std::move(call));
}

void RedisCalls::finish(uint64_t id, pw::ClusterResponse response) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::unique_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  auto done = std::move(call->done_);
  loop_.defer_delete(std::move(call));
  done(response);
}

}  // namespace weir::extensions::wasm
