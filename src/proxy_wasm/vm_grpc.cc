// Vm: gRPC calls and streams in flight (proxy_grpc_call, proxy_grpc_stream and what the
// plugin does with them afterwards), and the delivery of their events to the plugin's
// proxy_on_grpc_* callbacks. The transport is ClusterCalls' (worker_services.h).
#include <spdlog/spdlog.h>

#include "http/grpc.h"
#include "proxy_wasm/vm.h"

namespace weir::proxy_wasm {

GrpcEvents Vm::grpc_events(uint32_t token) {
  std::weak_ptr<Vm> self = weak_from_this();
  GrpcEvents events;
  events.initial_metadata = [self, token](http::HeaderMap& metadata) {
    if (auto vm = self.lock()) vm->on_grpc_initial_metadata(token, metadata);
  };
  events.message = [self, token](std::string& message) {
    if (auto vm = self.lock()) vm->on_grpc_message(token, message);
  };
  events.trailing_metadata = [self, token](http::HeaderMap& metadata) {
    if (auto vm = self.lock()) vm->on_grpc_trailing_metadata(token, metadata);
  };
  events.close = [self, token](uint32_t status, std::string_view message) {
    if (auto vm = self.lock()) vm->on_grpc_close(token, status, message);
  };
  return events;
}

WasmResult Vm::grpc_call(RootContext& root, GrpcRequest request, std::string message,
                         WasmResult unknown_cluster, uint32_t* token) {
  return start_call(root, CallKind::GrpcCall, unknown_cluster, token,
                    [&](ClusterCalls& calls, uint32_t t) -> uint64_t {
                      const uint64_t id = calls.start_grpc(std::move(request), grpc_events(t));
                      if (id != 0) calls.send_grpc(id, message, true);
                      return id;
                    });
}

WasmResult Vm::grpc_stream(RootContext& root, GrpcRequest request, WasmResult unknown_cluster,
                           uint32_t* token) {
  return start_call(root, CallKind::GrpcStream, unknown_cluster, token,
                    [&](ClusterCalls& calls, uint32_t t) -> uint64_t {
                      return calls.start_grpc(std::move(request), grpc_events(t));
                    });
}

WasmResult Vm::grpc_send(uint32_t token, std::string_view message, bool end_stream) {
  auto it = calls_.find(token);
  // Envoy tells calls from streams by the token's parity: a call's token is no stream.
  if (it == calls_.end()) return (token & 1) ? WasmResult::BadArgument : WasmResult::NotFound;
  PendingCall& call = it->second;
  if (call.kind != CallKind::GrpcStream || call.local_closed) return WasmResult::BadArgument;
  if (call.remote_closed) return WasmResult::Ok;  // over: nothing to send it on (Envoy: OK)
  if (end_stream) call.local_closed = true;
  ClusterCalls* calls = rt_->cluster_calls();
  if (calls && call.request_id != 0 && !calls->send_grpc(call.request_id, message, end_stream)) {
    return WasmResult::NotFound;
  }
  return WasmResult::Ok;
}

WasmResult Vm::grpc_cancel(uint32_t token) {
  auto it = calls_.find(token);
  if (it == calls_.end() ||
      (it->second.kind != CallKind::GrpcCall && it->second.kind != CallKind::GrpcStream)) {
    return WasmResult::NotFound;
  }
  const uint64_t id = it->second.request_id;
  calls_.erase(it);
  ClusterCalls* calls = rt_->cluster_calls();
  if (calls && id != 0) calls->cancel(id);
  return WasmResult::Ok;
}

WasmResult Vm::grpc_close(uint32_t token) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return WasmResult::NotFound;
  PendingCall& call = it->second;
  if (call.kind == CallKind::GrpcCall) return grpc_cancel(token);  // as Envoy
  if (call.kind != CallKind::GrpcStream) return WasmResult::NotFound;
  if (call.remote_closed) {
    calls_.erase(it);
    return WasmResult::Ok;
  }
  if (!call.local_closed) {
    call.local_closed = true;
    ClusterCalls* calls = rt_->cluster_calls();
    if (calls && call.request_id != 0) calls->half_close_grpc(call.request_id);
  }
  return WasmResult::Ok;
}

void Vm::grpc_callback(uint32_t root_id, Callback cb, uint32_t token, uint32_t n) {
  ContextBase* root = find_context(root_id);
  if (!root || !alive_) return;
  (void)call(root, cb,
             {static_cast<int32_t>(root_id), static_cast<int32_t>(token), static_cast<int32_t>(n)});
}

void Vm::on_grpc_initial_metadata(uint32_t token, http::HeaderMap& metadata) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  if (it->second.answer) {  // a unary call: kept for its one callback
    it->second.answer->initial_metadata = std::move(metadata);
    return;
  }
  const uint32_t root_id = it->second.root_context_id;
  grpc_initial_metadata_ = &metadata;
  grpc_callback(root_id, Callback::OnGrpcReceiveInitialMetadata, token,
                static_cast<uint32_t>(metadata.size()));
  grpc_initial_metadata_ = nullptr;
}

void Vm::on_grpc_message(uint32_t token, std::string& message) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  if (GrpcAnswer* answer = it->second.answer.get()) {
    // A unary call answers with one message; with more, the last one counts (as Envoy).
    answer->message = std::move(message);
    answer->has_message = true;
    return;
  }
  const uint32_t root_id = it->second.root_context_id;
  grpc_message_ = &message;
  grpc_callback(root_id, Callback::OnGrpcReceive, token, static_cast<uint32_t>(message.size()));
  grpc_message_ = nullptr;
}

void Vm::on_grpc_trailing_metadata(uint32_t token, http::HeaderMap& metadata) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  if (it->second.answer) {
    it->second.answer->trailing_metadata = std::move(metadata);
    return;
  }
  const uint32_t root_id = it->second.root_context_id;
  grpc_trailing_metadata_ = &metadata;
  grpc_callback(root_id, Callback::OnGrpcReceiveTrailingMetadata, token,
                static_cast<uint32_t>(metadata.size()));
  grpc_trailing_metadata_ = nullptr;
}

void Vm::on_grpc_close(uint32_t token, uint32_t status, std::string_view message) {
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  const uint32_t root_id = it->second.root_context_id;
  std::unique_ptr<GrpcAnswer> answer = std::move(it->second.answer);
  if (answer || it->second.local_closed) {
    calls_.erase(it);
  } else {
    // The plugin has not closed its side: the token stays (OK to send and close) until it
    // does, counted against the bound, as in Envoy.
    it->second.remote_closed = true;
    it->second.request_id = 0;
  }
  std::string status_message(message);
  GrpcStatus grpc_status{status, status_message};
  if (answer) {
    // The answer's metadata is readable during its one callback.
    grpc_initial_metadata_ = &answer->initial_metadata;
    grpc_trailing_metadata_ = &answer->trailing_metadata;
    if (status == 0 && answer->has_message) {
      grpc_message_ = &answer->message;
      grpc_callback(root_id, Callback::OnGrpcReceive, token,
                    static_cast<uint32_t>(answer->message.size()));
    } else {
      if (status == 0) {
        // OK without a message is no answer to a unary call (Envoy: INTERNAL).
        grpc_status.code = http::grpc::code(http::grpc::Status::Internal);
        status_message = "the unary call's answer has no message";
        grpc_status.message = status_message;
      }
      grpc_status_ = &grpc_status;
      grpc_callback(root_id, Callback::OnGrpcClose, token, grpc_status.code);
    }
  } else {
    grpc_status_ = &grpc_status;
    grpc_callback(root_id, Callback::OnGrpcClose, token, status);
  }
  grpc_status_ = nullptr;
  grpc_message_ = nullptr;
  grpc_initial_metadata_ = nullptr;
  grpc_trailing_metadata_ = nullptr;
}

}  // namespace weir::proxy_wasm
