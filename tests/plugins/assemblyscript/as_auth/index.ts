// as_auth: external authorization with an HTTP call, written against
// @solo-io/proxy-runtime 0.1.8. The SDK looks the call's callback up in the *root*
// context whose id the host passes to proxy_on_http_call_response.
//
//   - Plugin configuration: the cluster to ask. (Give one: with an empty configuration
//     this SDK version reads a stale buffer in onConfigure, since the host, like Envoy,
//     writes nothing for an empty answer, and it may abort.)
//   - Request headers: GET <x-auth-path header, default /check> on that cluster
//     (timeout 500 ms); the request waits.
//     200 -> the request goes on with "x-as-auth: allowed"; another status -> 403
//     "denied by as auth\n"; no answer (failure, timeout) -> 500.
// root_id must be "as_auth".
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext,
  Context,
  registerRootContext,
  FilterHeadersStatusValues,
  GrpcStatusValues,
  HeaderPair,
  Headers,
  send_local_response,
  stream_context,
} from "@solo-io/proxy-runtime";

const ROOT_ID = "as_auth";

function pair(key: string, value: string): HeaderPair {
  return new HeaderPair(String.UTF8.encode(key), String.UTF8.encode(value));
}

function reply(status: u32, body: string): void {
  send_local_response(status, "as_auth", String.UTF8.encode(body), [], GrpcStatusValues.Unknown);
}

class AuthRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new AuthFilter(context_id, this);
  }
}

function onAuthResponse(origin: Context, headers: u32, body_size: usize, trailers: u32): void {
  if (headers == 0) {
    reply(500, "auth service unavailable\n");
    return;
  }
  if (stream_context.headers.http_callback.get(":status") != "200") {
    reply(403, "denied by as auth\n");
    return;
  }
  stream_context.headers.request.add("x-as-auth", "allowed");
  origin.continueRequest();
}

class AuthFilter extends Context {
  constructor(context_id: u32, root_context: AuthRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let path = stream_context.headers.request.get("x-auth-path");
    if (path == "") path = "/check";
    const headers: Headers = [pair(":method", "GET"), pair(":path", path), pair(":authority", "auth")];
    this.root_context.httpCall(this.root_context.getConfiguration(), headers, new ArrayBuffer(0), [], 500, this, onAuthResponse);
    return FilterHeadersStatusValues.StopIteration;
  }
}

registerRootContext((context_id: u32): RootContext => {
  return new AuthRoot(context_id);
}, ROOT_ID);
