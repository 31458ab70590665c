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
}  // namespace

class RedisCalls::Call final : public net::Connection::Handler {
 public:
  Call(RedisCalls& owner, uint64_t id, pw::ClusterCalls::Completion done, uint64_t max_reply)
      : owner_(owner), id_(id), done_(std::move(done)), max_reply_(max_reply) {}
  ~Call() override {
    if (timer_) owner_.loop_.cancel_timer(timer_);
    if (connection_) {
      connection_->set_handler(nullptr);
      connection_->close(true);
      owner_.loop_.defer_delete(std::move(connection_));
    }
  }

  void start(std::unique_ptr<net::Connection> connection, const pw::RedisRequest& r) {
    connection_ = std::move(connection);
    connection_->set_handler(this);
    // The cap on unread input: one byte past the bound shows the reply is too large.
    connection_->set_buffer_limit(
        static_cast<uint32_t>(std::min<uint64_t>(max_reply_ + 1, UINT32_MAX - 1)));
    std::string out;
    if (!r.password.empty()) {
      out += r.username.empty() ? "*2\r\n" : "*3\r\n";
      append_bulk(out, "AUTH");
      if (!r.username.empty()) append_bulk(out, r.username);
      append_bulk(out, r.password);
      ++preamble_replies_;
    }
    if (r.database != 0) {
      out += "*2\r\n";
      append_bulk(out, "SELECT");
      append_bulk(out, std::to_string(r.database));
      ++preamble_replies_;
    }
    out += r.query;
    connection_->write(out);
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
      if (static_cast<uint64_t>(n) > max_reply_)
        return fail("the reply is larger than the limit", true);
      // A refused AUTH or SELECT is the call's answer: the plugin sees Redis's error.
      if (preamble_replies_ > 0 && input[0] != '-') {
        --preamble_replies_;
        input.erase(0, static_cast<size_t>(n));
        continue;
      }
      pw::ClusterResponse response;
      response.ok = true;
      response.body = input.substr(0, static_cast<size_t>(n));
      input.clear();
      return complete(std::move(response));
    }
  }
  void on_close(bool by_peer, std::string_view reason) override {
    std::string why = (connection_ && connection_->connecting() ? "connect failed: "
                       : by_peer                                ? "closed by Redis: "
                                                                : "closed: ") +
                      std::string(reason);
    if (connection_) owner_.loop_.defer_delete(std::move(connection_));
    fail(std::move(why));
  }

  void fail(std::string why, bool too_large = false) {
    pw::ClusterResponse response;
    response.failure = std::move(why);
    response.body_too_large = too_large;
    complete(std::move(response));
  }

 private:
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
  std::unique_ptr<net::Connection> connection_;
  event::EventLoop::TimerId timer_ = 0;
  int preamble_replies_ = 0;
  bool finished_ = false;
};

RedisCalls::RedisCalls(event::EventLoop& loop, FindCluster find_cluster)
    : loop_(loop), find_cluster_(std::move(find_cluster)) {}

RedisCalls::~RedisCalls() = default;

uint64_t RedisCalls::dispatch(pw::RedisRequest request, pw::ClusterCalls::Completion done) {
  const proxy::Cluster* cluster = find_cluster_(request.cluster);
  if (!cluster) return 0;
  const uint64_t id = kIdBit | next_id_++;
  auto call = std::make_unique<Call>(*this, id, std::move(done), request.max_reply_bytes);
  Call* c = call.get();
  calls_.emplace(id, std::move(call));
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
  c->start(std::make_unique<net::Connection>(loop_, *fd, true), request);
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
