#include "extensions/common/wasm/grpc_calls.h"

#include "http/grpc.h"

namespace weir::extensions::wasm {

namespace grpc = http::grpc;

// Until the HTTP/2 upstream client is in, a stream fails at once with UNAVAILABLE.
class GrpcCalls::Stream {
 public:
  proxy_wasm::GrpcEvents events;
  bool cancelled = false;
};

GrpcCalls::GrpcCalls(event::EventLoop& loop, proxy::AsyncHttpClient& client)
    : loop_(loop), client_(client) {}

GrpcCalls::~GrpcCalls() = default;

uint64_t GrpcCalls::start(proxy_wasm::GrpcRequest request, proxy_wasm::GrpcEvents events) {
  if (!client_.has_cluster(request.cluster)) return 0;
  const uint64_t id = kIdBit | next_id_++;
  auto stream = std::make_unique<Stream>();
  stream->events = std::move(events);
  streams_.emplace(id, std::move(stream));
  loop_.post([this, id] {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto close = std::move(it->second->events.close);
    streams_.erase(it);
    close(grpc::code(grpc::Status::Unavailable), "no HTTP/2 upstream client for gRPC yet");
  });
  return id;
}

bool GrpcCalls::send(uint64_t id, std::string_view, bool) { return streams_.contains(id); }

void GrpcCalls::half_close(uint64_t) {}

void GrpcCalls::cancel(uint64_t id) { streams_.erase(id); }

void GrpcCalls::finish(uint64_t id) { streams_.erase(id); }

}  // namespace weir::extensions::wasm
