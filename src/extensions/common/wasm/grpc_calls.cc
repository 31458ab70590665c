#include "extensions/common/wasm/grpc_calls.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "http/grpc.h"

namespace weir::extensions::wasm {

namespace grpc = http::grpc;

// One gRPC stream over one HTTP/2 stream of the worker's AsyncHttpClient. It
// turns the response's headers, DATA and trailers into the host's gRPC events,
// and ends with exactly one close event (unless cancelled). Freed after the
// HTTP stream is over, never inside one of its own callbacks.
class GrpcCalls::Stream final : public proxy::AsyncStreamCallbacks {
 public:
  Stream(GrpcCalls& owner, uint64_t id, proxy_wasm::GrpcEvents events, uint64_t max_message_bytes)
      : owner_(owner), id_(id), events_(std::move(events)), decoder_(max_message_bytes) {}

  uint64_t http_id = 0;  // 0: not started (the cluster cannot carry gRPC)
  bool cancelled = false;
  // When the call's timeout runs out (none: no timeout).
  std::optional<std::chrono::steady_clock::time_point> deadline;

  void on_headers(http::HeaderMap& headers, bool end_stream) override {
    if (!live()) return;
    const auto status = headers.get(":status");
    if (status && *status != "200") {
      // Not a gRPC answer (a proxy or server error page): its HTTP status
      // decides.
      fail(grpc::status_from_http(grpc::parse_status(*status).value_or(0)),
           "HTTP status " + std::string(*status));
      return;
    }
    if (end_stream) {
      // Trailers-only: the status and the trailing metadata are in these
      // headers.
      finish_with_trailers(headers, headers);
      return;
    }
    const auto content_type = headers.get("content-type");
    if (!content_type || !content_type->starts_with("application/grpc")) {
      fail(grpc::code(grpc::Status::Internal), "the answer is not application/grpc");
      return;
    }
    events_.initial_metadata(headers);
  }

  void on_data(std::string_view data, bool end_stream) override {
    if (!live()) return;
    decoder_.feed(data);
    std::string message;
    for (;;) {
      switch (decoder_.next(message)) {
        case grpc::FrameDecoder::Result::Message:
          events_.message(message);
          if (!live()) return;  // cancelled from inside the event
          continue;
        case grpc::FrameDecoder::Result::TooLarge:
          fail(grpc::code(grpc::Status::ResourceExhausted),
               "received a message larger than the limit "
               "(max_call_response_bytes)");
          return;
        case grpc::FrameDecoder::Result::Compressed:
          fail(grpc::code(grpc::Status::Internal), "received a compressed message");
          return;
        case grpc::FrameDecoder::Result::NeedMore:
          break;
      }
      break;
    }
    if (end_stream) fail(grpc::code(grpc::Status::Internal), "the answer ended without trailers");
  }

  void on_trailers(http::HeaderMap& trailers) override {
    if (!live()) return;
    static const http::HeaderMap kNoHeaders;
    finish_with_trailers(kNoHeaders, trailers);
  }

  void on_complete() override {
    if (live()) close(grpc::code(grpc::Status::Internal), "the answer ended without a status");
    owner_.forget(id_);
  }

  void on_reset(std::string_view reason) override {
    if (live()) {
      // Past the deadline, a reset is the deadline's doing whoever noticed first: the
      // server, told by grpc-timeout, may cancel the stream before weir's own timer fires.
      const bool timeout =
          reason == "timeout" || (deadline && std::chrono::steady_clock::now() >= *deadline);
      close(grpc::code(timeout ? grpc::Status::DeadlineExceeded : grpc::Status::Unavailable),
            timeout ? std::string("deadline exceeded") : std::string(reason));
    }
    owner_.forget(id_);
  }

  // The close event, once.
  void close(uint32_t status, std::string_view message) {
    if (!live()) return;
    closed_ = true;
    auto close = std::move(events_.close);
    close(status, message);
  }

 private:
  bool live() const { return !closed_ && !cancelled; }

  void finish_with_trailers(const http::HeaderMap& headers, http::HeaderMap& trailers) {
    // A partial message left over is a broken answer, whatever the status says.
    if (!decoder_.empty()) {
      fail(grpc::code(grpc::Status::Internal), "the answer ended inside a message");
      return;
    }
    grpc::CallStatus status = grpc::status_of(headers, &trailers);
    events_.trailing_metadata(trailers);
    close(status.code, status.message);
  }

  // Ends the gRPC stream with `status` and resets the HTTP/2 stream.
  void fail(uint32_t status, const std::string& message) {
    owner_.reset_http(*this);
    close(status, message);
    owner_.forget(id_);
  }

  GrpcCalls& owner_;
  uint64_t id_;
  proxy_wasm::GrpcEvents events_;
  grpc::FrameDecoder decoder_;
  bool closed_ = false;
};

GrpcCalls::GrpcCalls(event::EventLoop& loop, proxy::AsyncHttpClient& client)
    : loop_(loop), client_(client) {}

GrpcCalls::~GrpcCalls() {
  for (auto& [id, stream] : streams_) {
    if (stream->http_id != 0) client_.reset(stream->http_id);
  }
}

uint64_t GrpcCalls::start(proxy_wasm::GrpcRequest request, proxy_wasm::GrpcEvents events) {
  if (!client_.has_cluster(request.cluster)) return 0;
  const uint64_t id = kIdBit | next_id_++;
  auto owned = std::make_unique<Stream>(*this, id, std::move(events), request.max_message_bytes);
  Stream& stream = *owned;
  streams_.emplace(id, std::move(owned));

  http::HeaderMap headers;
  headers.add(":method", "POST");
  headers.add(":path", "/" + request.service + "/" + request.method);
  headers.add(":authority", request.authority);
  headers.add("content-type", "application/grpc");
  headers.add("te", "trailers");
  if (request.timeout.count() > 0) {
    headers.add("grpc-timeout", grpc::timeout_header(request.timeout));
    stream.deadline = std::chrono::steady_clock::now() + request.timeout;
  }
  for (const auto& entry : request.initial_metadata.entries()) {
    // The plugin's metadata may not redirect the call or change its framing.
    const std::string_view name = entry.first;
    if (name.empty() || name[0] == ':' || name == "content-type" || name == "te" ||
        name == "grpc-timeout") {
      continue;
    }
    headers.add(name, entry.second);
  }
  auto started = client_.start_stream(request.cluster, std::move(headers), stream, request.timeout);
  if (!started.ok()) {
    // A cluster weir cannot speak gRPC to (HTTP/1.1 only): the call fails, as
    // calls to a cluster without endpoints do, and the log says why.
    spdlog::warn("gRPC call to cluster '{}' failed: {}", request.cluster, started.error());
    std::string why = started.error();
    loop_.post([this, alive = std::weak_ptr<bool>(alive_), id, why = std::move(why)] {
      if (alive.expired()) return;  // the worker went away meanwhile
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      it->second->close(grpc::code(grpc::Status::Unavailable), why);
      forget(id);
    });
    return id;
  }
  stream.http_id = started.value();
  return id;
}

bool GrpcCalls::send(uint64_t id, std::string_view message, bool end_stream) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second->http_id == 0) return false;
  return client_.send_data(it->second->http_id, grpc::frame(message), end_stream);
}

void GrpcCalls::half_close(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second->http_id == 0) return;
  client_.send_data(it->second->http_id, {}, true);
}

void GrpcCalls::cancel(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second->cancelled = true;
  reset_http(*it->second);
  forget(id);
}

void GrpcCalls::reset_http(Stream& stream) {
  if (stream.http_id != 0) client_.reset(stream.http_id);
  stream.http_id = 0;
}

void GrpcCalls::forget(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // Possibly called from inside one of the stream's own callbacks: freed
  // afterwards.
  loop_.defer_delete(std::move(it->second));
  streams_.erase(it);
}

}  // namespace weir::extensions::wasm
