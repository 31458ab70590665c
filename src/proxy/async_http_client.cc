#include "proxy/async_http_client.h"

#include "http/http1_writer.h"
#include "proxy/cluster_manager.h"
#include "proxy/upstream_http2_request.h"
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
        request_(UpstreamRequest::create(pool, *this, client.loop_)) {}
  ~Call() override {
    if (timer_) client_.loop_.cancel_timer(timer_);
    if (request_) {
      request_->abort();
      auto doomed = std::shared_ptr<UpstreamRequest>(request_.release());
      client_.loop_.defer([doomed] {});
    }
  }

  void start(http::HeaderMap headers, const std::string& body,
             std::optional<http::HeaderMap> trailers, std::chrono::milliseconds timeout) {
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
    if (!status.empty()) {
      pool_.cluster().stats->by_class(static_cast<uint32_t>(status[0] - '0') * 100).inc();
    }
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

// One streaming call: an HTTP/2 upstream request whose callbacks go straight to the
// owner's AsyncStreamCallbacks (they already come from the loop, never from inside a
// send: Http2UpstreamRequest only queues there).
class AsyncHttpClient::StreamCall : public UpstreamRequest::Callbacks {
 public:
  StreamCall(AsyncHttpClient& client, uint64_t id, UpstreamPool& pool,
             AsyncStreamCallbacks& callbacks)
      : client_(client),
        id_(id),
        pool_(pool),
        callbacks_(callbacks),
        request_(std::make_unique<Http2UpstreamRequest>(pool, *this, client.loop_)) {}
  ~StreamCall() override {
    if (timer_) client_.loop_.cancel_timer(timer_);
    // Resets the stream if it is still open; no callback follows.
    request_.reset();
  }

  void start(const http::HeaderMap& headers, std::chrono::milliseconds timeout) {
    pool_.cluster().stats->upstream_rq_total.inc();
    pool_.cluster().stats->upstream_rq_active.add(1);
    active_ = true;
    if (timeout.count() > 0) {
      timer_ = client_.loop_.add_timer(timeout, [this] {
        timer_ = 0;
        pool_.cluster().stats->upstream_rq_timeout.inc();
        end_with_reset("timeout");
      });
    }
    request_->start(headers.get(":method") == "HEAD");
    const bool end = queued_end_ && queued_.empty() && !queued_trailers_;
    request_->send_headers(headers, BodyFraming::None, end);
    started_ = true;
    if (!queued_.empty() || (queued_end_ && !end)) request_->send_body(queued_, queued_end_);
    queued_.clear();
    if (queued_trailers_) request_->send_trailers(*queued_trailers_);
    queued_trailers_.reset();
    if (!reading_) request_->read_disable(true);
  }

  bool send_data(std::string_view data, bool end_stream) {
    if (request_ended_) return false;
    // Bounded: a sender faster than the upstream reads (a plugin streaming into a server
    // that stopped opening its window) is refused past the buffer limit, not buffered.
    if (!data.empty() && (send_blocked_ || queued_.size() > buffer_limit())) return false;
    request_ended_ = end_stream;
    if (!started_) {
      queued_.append(data);
      queued_end_ = end_stream;
      return true;
    }
    request_->send_body(data, end_stream);
    return true;
  }
  bool send_trailers(const http::HeaderMap& trailers) {
    if (request_ended_) return false;
    request_ended_ = true;
    if (!started_) {
      queued_trailers_ = trailers;
      return true;
    }
    request_->send_trailers(trailers);
    return true;
  }
  void on_upstream_above_write_high_watermark() override { send_blocked_ = true; }
  void on_upstream_below_write_low_watermark() override { send_blocked_ = false; }
  size_t buffer_limit() const { return pool_.cluster().config.per_connection_buffer_limit_bytes; }
  void set_reading(bool reading) {
    if (reading == reading_) return;
    reading_ = reading;
    if (started_) request_->read_disable(!reading);
  }

  void on_upstream_connected(std::string_view, const net::tls::TlsInfo*) override {}
  void on_upstream_headers(http::HeaderMap& headers, const http::MessageHead&,
                           bool end_stream) override {
    if (forgotten_) return;
    auto status = headers.get(":status").value_or("0");
    if (!status.empty()) {
      pool_.cluster().stats->by_class(static_cast<uint32_t>(status[0] - '0') * 100).inc();
    }
    callbacks_.on_headers(headers, end_stream);
  }
  void on_upstream_body(std::string_view data, bool end_stream) override {
    callbacks_.on_data(data, end_stream);
  }
  void on_upstream_trailers(http::HeaderMap& trailers) override {
    callbacks_.on_trailers(trailers);
  }
  void on_upstream_complete() override {
    AsyncStreamCallbacks& callbacks = callbacks_;
    finish();
    callbacks.on_complete();
  }
  void on_upstream_failure(UpstreamFailure, std::string_view reason) override {
    if (!forgotten_) end_with_reset(std::string(reason));
  }

  void cancel() {
    if (started_) request_->abort();
    finish();
  }

  // The client is going away: no callback, the stream is reset as this is destroyed.
  void finish_silently() {
    if (active_) pool_.cluster().stats->upstream_rq_active.sub(1);
    active_ = false;
  }

  // Ends the stream for the owner: no callback runs after this (the request may still be
  // inside its connection's callbacks until it is freed, after the current callback).
  void finish() {
    forgotten_ = true;
    if (active_) pool_.cluster().stats->upstream_rq_active.sub(1);
    active_ = false;
    if (timer_) client_.loop_.cancel_timer(timer_);
    timer_ = 0;
    client_.forget_stream(id_);  // this is freed after the current callback
  }

 private:
  void end_with_reset(const std::string& reason) {
    AsyncStreamCallbacks& callbacks = callbacks_;
    request_->abort();
    finish();
    callbacks.on_reset(reason);
  }

  AsyncHttpClient& client_;
  uint64_t id_;
  UpstreamPool& pool_;
  AsyncStreamCallbacks& callbacks_;
  std::unique_ptr<Http2UpstreamRequest> request_;
  event::EventLoop::TimerId timer_ = 0;
  bool started_ = false;
  bool active_ = false;
  bool forgotten_ = false;
  bool request_ended_ = false;
  bool reading_ = true;
  std::string queued_;
  bool send_blocked_ = false;  // the stream's send buffer is over its high watermark
  bool queued_end_ = false;
  std::optional<http::HeaderMap> queued_trailers_;
};

AsyncHttpClient::AsyncHttpClient(event::EventLoop& loop,
                                 std::function<UpstreamPool*(std::string_view)> find_pool,
                                 uint64_t first_id)
    : loop_(loop), find_pool_(std::move(find_pool)), next_id_(first_id) {}

AsyncHttpClient::~AsyncHttpClient() {
  calls_.clear();
  for (auto& [id, stream] : streams_) stream->finish_silently();
  streams_.clear();
}

Result<uint64_t> AsyncHttpClient::start_stream(std::string_view cluster, http::HeaderMap headers,
                                               AsyncStreamCallbacks& callbacks,
                                               std::chrono::milliseconds timeout) {
  UpstreamPool* pool = find_pool_(cluster);
  if (!pool) return Error{"unknown cluster \"" + std::string(cluster) + "\""};
  if (pool->cluster().config.http_protocol == config::UpstreamHttpProtocol::Http1) {
    return Error{"cluster \"" + std::string(cluster) +
                 "\" speaks HTTP/1.1: streaming calls need an HTTP/2 cluster "
                 "(typed_extension_protocol_options with http2_protocol_options)"};
  }
  uint64_t id = next_id_++;
  auto call = std::make_unique<StreamCall>(*this, id, *pool, callbacks);
  streams_.emplace(id, std::move(call));
  // Started after start_stream returns, so no callback can run inside it.
  loop_.defer([this, id, headers = std::move(headers), timeout]() mutable {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->start(headers, timeout);
  });
  return id;
}

bool AsyncHttpClient::send_data(uint64_t id, std::string_view data, bool end_stream) {
  auto it = streams_.find(id);
  return it != streams_.end() && it->second->send_data(data, end_stream);
}

bool AsyncHttpClient::send_trailers(uint64_t id, const http::HeaderMap& trailers) {
  auto it = streams_.find(id);
  return it != streams_.end() && it->second->send_trailers(trailers);
}

void AsyncHttpClient::set_reading(uint64_t id, bool reading) {
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->set_reading(reading);
}

void AsyncHttpClient::reset(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second->cancel();  // RST_STREAM, and forgotten: no callback after this
}

void AsyncHttpClient::forget_stream(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::shared_ptr<StreamCall> doomed(it->second.release());
  streams_.erase(it);
  // We may be inside the stream's own callbacks: free it afterwards.
  loop_.defer([doomed] {});
}

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
    if (calls_.count(id)) {
      raw->start(std::move(headers), body, std::move(trailers), timeout);
    }
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
