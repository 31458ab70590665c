// A Proxy-Wasm 0.2.1 plugin for the gRPC host-function unit tests (proxy_wasm_grpc_test.cc),
// built at test time like test_plugin.c. Its request-headers callback runs the operation
// the request asks for (x-op: call | stream | send | cancel | close | maps) with x-token,
// x-msg, x-end, x-service (a cluster name, or "proto" for a serialized GrpcService), and
// writes each status into request header x-status (and a new token into x-token). Its gRPC
// callbacks log what they got ("grpc receive token=.. ..."), and trap on a message "trap".
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))

IMPORT(proxy_log) int proxy_log(int level, const char* p, size_t n);
IMPORT(proxy_get_buffer_bytes) int proxy_get_buffer_bytes(int t, size_t start, size_t max, char** p, size_t* n);
IMPORT(proxy_get_header_map_value) int proxy_get_header_map_value(int t, const char* k, size_t kn, char** v, size_t* vn);
IMPORT(proxy_replace_header_map_value) int proxy_replace_header_map_value(int t, const char* k, size_t kn, const char* v, size_t vn);
IMPORT(proxy_get_status) int proxy_get_status(uint32_t* code, char** p, size_t* n);
IMPORT(proxy_grpc_call) int proxy_grpc_call(const char* s, size_t sn, const char* svc, size_t svcn, const char* m, size_t mn, const char* md, size_t mdn, const char* msg, size_t msgn, uint32_t timeout, uint32_t* token);
IMPORT(proxy_grpc_stream) int proxy_grpc_stream(const char* s, size_t sn, const char* svc, size_t svcn, const char* m, size_t mn, const char* md, size_t mdn, uint32_t* token);
IMPORT(proxy_grpc_send) int proxy_grpc_send(uint32_t token, const char* msg, size_t n, int end);
IMPORT(proxy_grpc_cancel) int proxy_grpc_cancel(uint32_t token);
IMPORT(proxy_grpc_close) int proxy_grpc_close(uint32_t token);

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}

EXPORT(proxy_on_context_create) void on_context_create(uint32_t id, uint32_t parent) {}
EXPORT(proxy_on_vm_start) int on_vm_start(uint32_t id, size_t size) { return 1; }
EXPORT(proxy_on_configure) int on_configure(uint32_t id, size_t size) { return 1; }

static void logf_(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void logf_(const char* fmt, ...) {
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  proxy_log(2, b, n < (int)sizeof b ? (size_t)n : sizeof b - 1);
}

// A header value as a NUL-terminated string (empty when absent).
static const char* hdr(int map, const char* key) {
  static char store[16][1024];
  static int next = 0;
  char* out = store[next++ & 15];
  char* v = 0;
  size_t n = 0;
  out[0] = 0;
  if (proxy_get_header_map_value(map, key, strlen(key), &v, &n) == 0) {
    if (n >= 1024) n = 1023;
    memcpy(out, v, n);
    out[n] = 0;
    free(v);
  }
  return out;
}

static void set_int(const char* k, long v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%ld", v);
  proxy_replace_header_map_value(0, k, strlen(k), b, (size_t)n);
}

// {"x-md": "1"}
static const char kMetadata[] = "\x01\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00x-md\0001\0";
// GrpcService{envoy_grpc{cluster_name: "grpc_cluster", authority: "auth.example"},
//             timeout{seconds: 2}, initial_metadata{key: "x-init", value: "v"}}
static const char kServiceProto[] =
    "\x0a\x1c\x0a\x0cgrpc_cluster\x12\x0c" "auth.example"
    "\x1a\x02\x08\x02"
    "\x2a\x0b\x0a\x06x-init\x12\x01v";

EXPORT(proxy_on_request_headers) int on_request_headers(uint32_t id, size_t headers, int eos) {
  const char* op = hdr(0, "x-op");
  const char* service = hdr(0, "x-service");
  const char* msg = hdr(0, "x-msg");
  size_t msg_len = strlen(msg);
  // x-msg-size: a message of that many bytes instead.
  const char* size_s = hdr(0, "x-msg-size");
  char* big = 0;
  if (size_s[0]) {
    msg_len = (size_t)atol(size_s);
    big = malloc(msg_len + 1);
    memset(big, 'x', msg_len);
    msg = big;
  }
  const char* svc = service;
  size_t svc_len = strlen(service);
  if (strcmp(service, "proto") == 0) {
    svc = kServiceProto;
    svc_len = sizeof kServiceProto - 1;
  }
  uint32_t token = (uint32_t)atol(hdr(0, "x-token"));
  uint32_t timeout = (uint32_t)atol(hdr(0, "x-timeout"));
  int status = -1;
  uint32_t out = 0;
  if (strcmp(op, "call") == 0) {
    status = proxy_grpc_call(svc, svc_len, "weir.test.Echo", 14, "Check", 5, kMetadata,
                             sizeof kMetadata - 1, msg, msg_len, timeout, &out);
    set_int("x-token", out);
  } else if (strcmp(op, "stream") == 0) {
    status = proxy_grpc_stream(svc, svc_len, "weir.test.Echo", 14, "Chat", 4, kMetadata,
                               sizeof kMetadata - 1, &out);
    set_int("x-token", out);
  } else if (strcmp(op, "send") == 0) {
    status = proxy_grpc_send(token, msg, msg_len, atoi(hdr(0, "x-end")));
  } else if (strcmp(op, "cancel") == 0) {
    status = proxy_grpc_cancel(token);
  } else if (strcmp(op, "close") == 0) {
    status = proxy_grpc_close(token);
  } else if (strcmp(op, "maps") == 0) {
    // Outside a gRPC callback: no metadata maps, no message, status 0.
    char* v = 0;
    size_t n = 0;
    set_int("x-md-initial", proxy_get_header_map_value(4, "a", 1, &v, &n));
    set_int("x-md-trailing", proxy_get_header_map_value(5, "a", 1, &v, &n));
    set_int("x-message", proxy_get_buffer_bytes(5, 0, 100, &v, &n));
    uint32_t code = 99;
    status = proxy_get_status(&code, &v, &n);
    set_int("x-code", code);
  }
  free(big);
  set_int("x-status", status);
  return 0;
}

EXPORT(proxy_on_grpc_receive_initial_metadata) void on_initial(uint32_t root, uint32_t token, uint32_t n) {
  logf_("grpc initial root=%u token=%u n=%u x-chat=%s", root, token, n, hdr(4, "x-chat"));
}

EXPORT(proxy_on_grpc_receive) void on_receive(uint32_t root, uint32_t token, size_t size) {
  char* p = 0;
  size_t n = 0;
  proxy_get_buffer_bytes(5, 0, size, &p, &n);
  if (n == 4 && memcmp(p, "trap", 4) == 0) __builtin_trap();
  logf_("grpc receive root=%u token=%u size=%zu msg=%.*s md=%s tr=%s", root, token, size,
        (int)(n > 64 ? 64 : n), p ? p : "", hdr(4, "x-check-id"), hdr(5, "x-check-trailer"));
  free(p);
}

EXPORT(proxy_on_grpc_receive_trailing_metadata) void on_trailing(uint32_t root, uint32_t token, uint32_t n) {
  logf_("grpc trailing root=%u token=%u n=%u x-chat-count=%s", root, token, n, hdr(5, "x-chat-count"));
}

EXPORT(proxy_on_grpc_close) void on_close(uint32_t root, uint32_t token, uint32_t status) {
  uint32_t code = 99;
  char* p = 0;
  size_t n = 0;
  int s = proxy_get_status(&code, &p, &n);
  logf_("grpc close root=%u token=%u status=%u get_status=%d/%u/%.*s", root, token, status, s,
        code, (int)n, p ? p : "");
  free(p);
}
