#pragma once
// The `service` argument of proxy_grpc_call / proxy_grpc_stream: what SDKs pass is either
// a serialized envoy.config.core.v3.GrpcService or, as Envoy falls back to when that does
// not parse, a plain cluster name. Only the fields weir can honour are read, by hand (no
// protobuf library): envoy_grpc.cluster_name, envoy_grpc.authority, timeout,
// initial_metadata. Other fields are skipped by wire type.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::proxy_wasm {

struct GrpcServiceTarget {
  std::string cluster;
  std::string authority;  // empty: the cluster name (Envoy's default)
  std::chrono::milliseconds timeout{0};
  std::vector<std::pair<std::string, std::string>> initial_metadata;
};

// The GrpcService message in `bytes`, if they are one with envoy_grpc.cluster_name set;
// nullopt if they are not valid protobuf, or name no Envoy gRPC cluster (google_grpc).
std::optional<GrpcServiceTarget> decode_grpc_service(std::string_view bytes);

}  // namespace weir::proxy_wasm
