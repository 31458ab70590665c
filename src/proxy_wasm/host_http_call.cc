// proxy_http_call: a request to a configured cluster on behalf of the caller's root
// context; the answer comes back in proxy_on_http_call_response(root, token, ...) on the
// same worker (Vm::on_http_call_done).
#include "proxy_wasm/host_call.h"
#include "proxy_wasm/map_serialization.h"

namespace weir::proxy_wasm::host {

namespace {
std::optional<http::HeaderMap> to_header_map(std::string_view serialized) {
  auto pairs = parse_map(serialized);
  if (!pairs) return std::nullopt;
  http::HeaderMap map;
  for (const auto& [k, v] : *pairs) map.add(k, v);
  return map;
}
}  // namespace

// (upstream, upstream_size, headers, headers_size, body, body_size, trailers,
//  trailers_size, timeout_ms, *token)
int32_t proxy_http_call(Vm& vm, const wasm::Value* a) {
  auto cluster = vm.slice(u32(a[0]), u32(a[1]));
  auto headers_bytes = vm.slice(u32(a[2]), u32(a[3]));
  auto body = vm.slice(u32(a[4]), u32(a[5]));
  auto trailers_bytes = vm.slice(u32(a[6]), u32(a[7]));
  if (!cluster || !headers_bytes || !body || !trailers_bytes) return kIma;
  // What the host copies and holds until the call ends: up to max_outstanding_calls of
  // these, so each is bounded like an answer is.
  const uint64_t request_bytes = headers_bytes->size() + body->size() + trailers_bytes->size();
  if (request_bytes > vm.first_plugin().limits.max_call_response_bytes) return kBadArg;
  ContextBase* ctx = vm.effective_context();
  if (!ctx) return kBadArg;
  auto headers = to_header_map(*headers_bytes);
  if (!headers) return kBadArg;
  // Envoy refuses a call without these.
  if (!headers->get(":method") || !headers->get(":path") || !headers->get(":authority")) {
    return kBadArg;
  }
  std::optional<http::HeaderMap> trailers;
  if (!trailers_bytes->empty()) {
    trailers = to_header_map(*trailers_bytes);
    if (!trailers) return kBadArg;
    if (trailers->empty()) trailers.reset();
  }
  uint32_t token = 0;
  WasmResult r = vm.http_call(*ctx->root(), *cluster, std::move(*headers), std::string(*body),
                              std::move(trailers), std::chrono::milliseconds(u32(a[8])), &token);
  if (r != WasmResult::Ok) return st(r);
  return vm.write_u32(u32(a[9]), token) ? kOk : kIma;
}

}  // namespace weir::proxy_wasm::host
