// The gRPC host functions: proxy_grpc_call, proxy_grpc_stream, proxy_grpc_send,
// proxy_grpc_cancel, proxy_grpc_close (Vm's gRPC methods in vm_grpc.cc do the work).
//
// Statuses are the ones the Rust SDK accepts without panicking: call and stream answer OK,
// PARSE_FAILURE (the service is neither a GrpcService naming an Envoy gRPC cluster nor a
// configured cluster's name, or the metadata is malformed) or INTERNAL_FAILURE (past
// max_outstanding_calls or max_call_response_bytes, or a GrpcService naming an unknown
// cluster, which Envoy answers so too); send answers OK, BAD_ARGUMENT or NOT_FOUND; cancel
// and close OK or NOT_FOUND.
#include <spdlog/spdlog.h>

#include "proxy_wasm/grpc_service.h"
#include "proxy_wasm/host_call.h"
#include "proxy_wasm/map_serialization.h"

namespace weir::proxy_wasm::host {

namespace {

constexpr int32_t kParseFailure = static_cast<int32_t>(WasmResult::ParseFailure);
constexpr int32_t kInternal = static_cast<int32_t>(WasmResult::InternalFailure);

// The request the plugin asks for, or the status to answer.
struct Opened {
  GrpcRequest request;
  WasmResult unknown_cluster = WasmResult::ParseFailure;
  int32_t refused = kOk;
};

Opened open_request(Vm& vm, std::string_view service, std::string_view service_name,
                    std::string_view method, std::string_view metadata, uint64_t extra_bytes) {
  Opened o;
  // Everything the host copies and holds while the call is in flight is bounded like an
  // answer is (max_outstanding_calls of these at most).
  const uint64_t bytes =
      service.size() + service_name.size() + method.size() + metadata.size() + extra_bytes;
  if (bytes > vm.first_plugin().limits.max_call_response_bytes) {
    o.refused = kInternal;
    return o;
  }
  auto pairs = parse_map(metadata);
  if (!pairs || service_name.empty() || method.empty()) {
    o.refused = kParseFailure;
    return o;
  }
  GrpcRequest& r = o.request;
  if (auto target = decode_grpc_service(service)) {
    // Envoy creates the client without checking the cluster and fails the call at once.
    o.unknown_cluster = WasmResult::InternalFailure;
    for (auto& [k, v] : target->initial_metadata) r.initial_metadata.add(k, v);
    r.authority = target->authority.empty() ? target->cluster : target->authority;
    r.timeout = target->timeout;
    r.service.assign(service_name);
    r.method.assign(method);
    r.cluster = std::move(target->cluster);
  } else {
    // Envoy's fallback: the bytes are a cluster's name.
    if (!vm.has_cluster(service)) {
      o.refused = kParseFailure;
      return o;
    }
    r.cluster.assign(service);
    r.authority.assign(service);
    r.service.assign(service_name);
    r.method.assign(method);
  }
  for (const auto& [k, v] : *pairs) r.initial_metadata.add(k, v);
  r.max_message_bytes = vm.first_plugin().limits.max_call_response_bytes;
  return o;
}

}  // namespace

// (service, service_size, service_name, service_name_size, method, method_size,
//  initial_metadata, initial_metadata_size, message, message_size, timeout_ms, *token)
int32_t proxy_grpc_call(Vm& vm, const wasm::Value* a) {
  auto service = vm.slice(u32(a[0]), u32(a[1]));
  auto service_name = vm.slice(u32(a[2]), u32(a[3]));
  auto method = vm.slice(u32(a[4]), u32(a[5]));
  auto metadata = vm.slice(u32(a[6]), u32(a[7]));
  auto message = vm.slice(u32(a[8]), u32(a[9]));
  if (!service || !service_name || !method || !metadata || !message) return kIma;
  if (!vm.in_bounds(u32(a[11]), 4)) return kIma;
  ContextBase* ctx = vm.effective_context();
  if (!ctx) return kInternal;
  Opened o = open_request(vm, *service, *service_name, *method, *metadata, message->size());
  if (o.refused != kOk) return o.refused;
  if (u32(a[10]) > 0) o.request.timeout = std::chrono::milliseconds(u32(a[10]));
  uint32_t token = 0;
  WasmResult r = vm.grpc_call(*ctx->root(), std::move(o.request), std::string(*message),
                              o.unknown_cluster, &token);
  if (r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[11]), token) ? kOk : kIma;
}

// (service, service_size, service_name, service_name_size, method, method_size,
//  initial_metadata, initial_metadata_size, *token)
int32_t proxy_grpc_stream(Vm& vm, const wasm::Value* a) {
  auto service = vm.slice(u32(a[0]), u32(a[1]));
  auto service_name = vm.slice(u32(a[2]), u32(a[3]));
  auto method = vm.slice(u32(a[4]), u32(a[5]));
  auto metadata = vm.slice(u32(a[6]), u32(a[7]));
  if (!service || !service_name || !method || !metadata) return kIma;
  if (!vm.in_bounds(u32(a[8]), 4)) return kIma;
  ContextBase* ctx = vm.effective_context();
  if (!ctx) return kInternal;
  Opened o = open_request(vm, *service, *service_name, *method, *metadata, 0);
  if (o.refused != kOk) return o.refused;
  // A stream has no deadline of its own (Envoy's neither); a GrpcService's timeout is the
  // call's only.
  o.request.timeout = std::chrono::milliseconds(0);
  uint32_t token = 0;
  WasmResult r = vm.grpc_stream(*ctx->root(), std::move(o.request), o.unknown_cluster, &token);
  if (r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[8]), token) ? kOk : kIma;
}

// (token, message, message_size, end_stream)
int32_t proxy_grpc_send(Vm& vm, const wasm::Value* a) {
  auto message = vm.slice(u32(a[1]), u32(a[2]));
  if (!message) return kIma;
  if (message->size() > vm.first_plugin().limits.max_call_response_bytes) return kBadArg;
  return st(vm.grpc_send(u32(a[0]), *message, u32(a[3]) != 0));
}

// (token)
int32_t proxy_grpc_cancel(Vm& vm, const wasm::Value* a) { return st(vm.grpc_cancel(u32(a[0]))); }

// (token)
int32_t proxy_grpc_close(Vm& vm, const wasm::Value* a) { return st(vm.grpc_close(u32(a[0]))); }

}  // namespace weir::proxy_wasm::host
