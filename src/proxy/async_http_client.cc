#include "proxy/async_http_client.h"

#include "http/http1_writer.h"
#include "proxy/upstream_request.h"

namespace weir::proxy {

class AsyncHttpClient::Call : public UpstreamRequest::Callbacks {
 public:
  Call(AsyncHttpClient& client, uint64_t id, UpstreamPool& pool, uint64_t max_body_bytes,
       Callback callback)
      : client_(client),
        id_(id),
        pool_(pool),
        max_body_bytes_(max_body_bytes),
        callback_(std::move(callback)),
        request_(std::make_unique<UpstreamRequest>(pool, *this, client.loop_)) {}
  ~Call() override {
    if (timer_) client_.loop_.cancel_timer(timer_);
    if (request_) {
      request_->abort();
      auto doomed = std::shared_ptr<UpstreamRequest>(request_.release());
      client_.loop_.defer([doomed] {});
    }
  }

  void start(http::HeaderMap headers, std::string body, std::optional<http::HeaderMap> trailers,
             std::chrono::milliseconds timeout) {
    pool_.cluster().stats->upstream_rq_total.inc();
    if (timeout.count() > 0) {
      timer_ = client_.loop_.add_timer(timeout, [this] {
        timer_ = 0;
        pool_.cluster().stats->upstream_rq_timeout.inc();
        fail("timeout");
      });
    }
    bool head = headers.get(":method") == "HEAD";
    request_->start(head);
    http::strip_hop_by_hop_headers(headers);
    bool has_body = !body.empty() || trailers;
    BodyFraming framing = BodyFraming::None;
    if (has_body && !trailers) {
      headers.set("content-length", std::to_string(body.size()));
      framing = BodyFraming::ContentLength;
    } else if (trailers) {
      headers.remove("content-length");
      headers.set("transfer-encoding", "chunked");
      framing = BodyFraming::Chunked;
    }
    request_->send_headers(headers, framing, !has_body);
    if (has_body) {
      if (trailers) {
        request_->send_body(body, false);
        request_->send_trailers(*trailers);
      } else {
        request_->send_body(body, true);
      }
    }
  }

  void on_upstream_connected(std::string_view, const net::tls::TlsInfo*) override {}
  void on_upstream_headers(http::HeaderMap& headers, const http::MessageHead&, bool) override {
    response_.headers = std::move(headers);
  }
  void on_upstream_body(std::string_view data, bool) override {
    if (response_.body.size() + data.size() > max_body_bytes_) {
      // Stop reading: the connection closes (never back to the pool mid-body).
      request_->abort();
      auto aborted = std::shared_ptr<UpstreamRequest>(request_.release());
      client_.loop_.defer([aborted] {});
      AsyncHttpResponse r;
      r.body_too_large = true;
      r.failure = "response body larger than " + std::to_string(max_body_bytes_) + " bytes";
      client_.finish(id_, std::move(r));
      return;
    }
    response_.body.append(data);
  }
  void on_upstream_trailers(http::HeaderMap& trailers) override {
    response_.trailers = std::move(trailers);
  }
  void on_upstream_complete() override {
    auto done = std::shared_ptr<UpstreamRequest>(request_.release());
    client_.loop_.defer([done] {});
    response_.ok = true;
    auto status = response_.headers.get(":status").value_or("0");
    if (!status.empty())
      pool_.cluster().stats->by_class(static_cast<uint32_t>(status[0] - '0') * 100).inc();
    client_.finish(id_, std::move(response_));
  }
  void on_upstream_failure(UpstreamFailure, std::string_view reason) override {
    auto failed = std::shared_ptr<UpstreamRequest>(request_.release());
    client_.loop_.defer([failed] {});
    fail(std::string(reason));
  }
  Callback& callback() { return callback_; }

 private:
  void fail(std::string why) {
    AsyncHttpResponse r;
    r.ok = false;
    r.failure = std::move(why);
    client_.finish(id_, std::move(r));
  }

  AsyncHttpClient& client_;
  uint64_t id_;
  UpstreamPool& pool_;
  uint64_t max_body_bytes_;
  Callback callback_;
  std::unique_ptr<UpstreamRequest> request_;
  AsyncHttpResponse response_;
  event::EventLoop::TimerId timer_ = 0;
};

AsyncHttpClient::AsyncHttpClient(event::EventLoop& loop,
                                 std::function<UpstreamPool*(std::string_view)> find_pool,
                                 uint64_t first_id)
    : loop_(loop), find_pool_(std::move(find_pool)), next_id_(first_id) {}

AsyncHttpClient::~AsyncHttpClient() { calls_.clear(); }

uint64_t AsyncHttpClient::send(std::string_view cluster, http::HeaderMap headers, std::string body,
                               std::optional<http::HeaderMap> trailers,
                               std::chrono::milliseconds timeout, uint64_t max_response_body_bytes,
                               Callback callback) {
  UpstreamPool* pool = find_pool_(cluster);
  if (!pool) return 0;
  uint64_t id = next_id_++;
  auto call =
      std::make_unique<Call>(*this, id, *pool, max_response_body_bytes, std::move(callback));
  Call* raw = call.get();
  calls_.emplace(id, std::move(call));
  // Start after send() returns, so the callback can never run inside it.
  loop_.defer([this, id, raw, headers = std::move(headers), body = std::move(body),
               trailers = std::move(trailers), timeout]() mutable {
    if (calls_.count(id))
      raw->start(std::move(headers), std::move(body), std::move(trailers), timeout);
  });
  return id;
}

void AsyncHttpClient::cancel(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::shared_ptr<Call> doomed(it->second.release());
  calls_.erase(it);
  loop_.defer([doomed] {});
}

void AsyncHttpClient::finish(uint64_t id, AsyncHttpResponse response) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::shared_ptr<Call> call(it->second.release());
  calls_.erase(it);
  // We may be inside the call's own upstream callbacks: free it afterwards.
  loop_.defer([call] {});
  call->callback()(response);
}

}  // namespace weir::proxy
