// A Proxy-Wasm 0.2.1 test plugin for the host-layer unit tests, built at test time with
//   clang-14 --target=wasm32-wasi -mexec-model=reactor -O2 -Wl,--export=malloc
// Its request-headers callback does what the request path asks for (/trap, /loop, ...)
// and reports host-call statuses in response-side-independent request headers (x-*).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))

IMPORT(proxy_log) int proxy_log(int level, const char* p, size_t n);
IMPORT(proxy_get_buffer_bytes) int proxy_get_buffer_bytes(int t, size_t start, size_t max, char** p, size_t* n);
IMPORT(proxy_set_buffer_bytes) int proxy_set_buffer_bytes(int t, size_t start, size_t len, const char* d, size_t n);
IMPORT(proxy_get_header_map_value) int proxy_get_header_map_value(int t, const char* k, size_t kn, char** v, size_t* vn);
IMPORT(proxy_get_header_map_pairs) int proxy_get_header_map_pairs(int t, char** p, size_t* n);
IMPORT(proxy_set_header_map_pairs) int proxy_set_header_map_pairs(int t, const char* p, size_t n);
IMPORT(proxy_add_header_map_value) int proxy_add_header_map_value(int t, const char* k, size_t kn, const char* v, size_t vn);
IMPORT(proxy_replace_header_map_value) int proxy_replace_header_map_value(int t, const char* k, size_t kn, const char* v, size_t vn);
IMPORT(proxy_remove_header_map_value) int proxy_remove_header_map_value(int t, const char* k, size_t kn);
IMPORT(proxy_send_local_response) int proxy_send_local_response(uint32_t status, const char* d, size_t dn, const char* b, size_t bn, const char* h, size_t hn, int grpc);
IMPORT(proxy_define_metric) int proxy_define_metric(int type, const char* n, size_t nn, uint32_t* id);
IMPORT(proxy_increment_metric) int proxy_increment_metric(uint32_t id, int64_t d);
IMPORT(proxy_record_metric) int proxy_record_metric(uint32_t id, uint64_t v);
IMPORT(proxy_get_metric) int proxy_get_metric(uint32_t id, uint64_t* v);
IMPORT(proxy_get_property) int proxy_get_property(const char* p, size_t n, char** v, size_t* vn);
IMPORT(proxy_set_property) int proxy_set_property(const char* p, size_t n, const char* v, size_t vn);
IMPORT(proxy_continue_stream) int proxy_continue_stream(int t);
IMPORT(proxy_set_tick_period_milliseconds) int proxy_set_tick_period_milliseconds(uint32_t ms);
IMPORT(proxy_http_call) int proxy_http_call(const char*, size_t, const char*, size_t, const char*, size_t, const char*, size_t, uint32_t, uint32_t*);
// Not part of any ABI version: must be stubbed, and answer UNIMPLEMENTED.
IMPORT(proxy_frobnicate) int proxy_frobnicate(int);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_frobnicate"))) int sock_frobnicate(int);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_exit"))) void wasi_proc_exit(int);

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}

static uint32_t m_counter, m_gauge, m_hist, lc_create, lc_done, lc_log, lc_delete, lc_root;
static char config[256];

static void set_hdr(const char* k, const char* v) {
  proxy_replace_header_map_value(0, k, strlen(k), v, strlen(v));
}
static void set_hdr_int(const char* k, long v) {
  char b[32];
  snprintf(b, sizeof b, "%ld", v);
  set_hdr(k, b);
}
static uint32_t define(int type, const char* name) {
  uint32_t id = 0;
  proxy_define_metric(type, name, strlen(name), &id);
  return id;
}

EXPORT(proxy_on_context_create) void on_context_create(uint32_t id, uint32_t parent) {
  if (parent == 0) {
    // Root context: C++ plugins read plugin_root_id here.
    char* v = 0; size_t n = 0;
    int s = proxy_get_property("plugin_root_id", 14, &v, &n);
    char msg[128];
    snprintf(msg, sizeof msg, "root context %u created, plugin_root_id status %d value '%.*s'", id, s, (int)n, v ? v : "");
    proxy_log(2, msg, strlen(msg));
    free(v);
    return;
  }
  proxy_increment_metric(lc_create, 1);
}

EXPORT(proxy_on_vm_start) int on_vm_start(uint32_t id, size_t size) {
  lc_create = define(0, "test.lc.create");
  lc_done = define(0, "test.lc.done");
  lc_log = define(0, "test.lc.log");
  lc_delete = define(0, "test.lc.delete");
  return 1;
}

EXPORT(proxy_on_configure) int on_configure(uint32_t id, size_t size) {
  char* p = 0; size_t n = 0;
  if (size > 0 && proxy_get_buffer_bytes(7, 0, 0xFFFFFFFFu, &p, &n) == 0) {
    if (n >= sizeof config) n = sizeof config - 1;
    memcpy(config, p, n);
    config[n] = 0;
    free(p);
  }
  if (strcmp(config, "reject") == 0) return 0;
  m_counter = define(0, "test.counter");
  m_gauge = define(1, "test.gauge");
  m_hist = define(2, "test.hist");
  const char* env = getenv("TEST_ENV");
  printf("configured with '%s', TEST_ENV=%s\n", config, env ? env : "(unset)");
  fflush(stdout);
  proxy_set_tick_period_milliseconds(500);
  return 1;
}

static int path_is(const char* path, size_t n, const char* want) {
  return n == strlen(want) && memcmp(path, want, n) == 0;
}

EXPORT(proxy_on_request_headers) int on_request_headers(uint32_t id, size_t headers, int eos) {
  char* path = 0; size_t pn = 0;
  proxy_get_header_map_value(0, ":path", 5, &path, &pn);
  if (path_is(path, pn, "/trap")) __builtin_trap();
  if (path_is(path, pn, "/loop")) { volatile int x = 0; for (;;) x++; }
  if (path_is(path, pn, "/exit")) wasi_proc_exit(3);
  if (path_is(path, pn, "/grow")) {
    // 5000 pages (312.5 MiB) is past the default cap: memory.grow answers -1 here.
    char b[32];
    int n = snprintf(b, sizeof b, "%ld", (long)__builtin_wasm_memory_grow(0, 5000));
    proxy_add_header_map_value(0, "x-grow", 6, b, (size_t)n);
    return 0;
  }
  if (path_is(path, pn, "/pause")) return 1;
  if (path_is(path, pn, "/pause-continue")) { proxy_continue_stream(0); return 1; }
  if (path_is(path, pn, "/local")) {
    // {"x-reason": "test"} serialized.
    static const char hdrs[] = "\x01\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00x-reason\0test\0";
    proxy_send_local_response(403, "denied", 6, "nope", 4, hdrs, sizeof hdrs - 1, 0);
    return 0;  // ignored: the local response wins
  }
  if (path_is(path, pn, "/headers")) {
    proxy_add_header_map_value(0, "x-added", 7, "1", 1);
    proxy_replace_header_map_value(0, "x-replace", 9, "new", 3);
    proxy_remove_header_map_value(0, "x-remove", 8);
    char* v = 0; size_t vn = 0;
    if (proxy_get_header_map_value(0, "x-get", 5, &v, &vn) == 0) {
      proxy_add_header_map_value(0, "x-got", 5, v, vn);
      free(v);
    }
    set_hdr_int("x-missing", proxy_get_header_map_value(0, "x-nope", 6, &v, &vn));
    set_hdr_int("x-resp-map", proxy_get_header_map_value(2, "a", 1, &v, &vn));
    char* pairs = (char*)1; size_t psize = 99;
    int ps = proxy_get_header_map_pairs(2, &pairs, &psize);
    char b[64];
    snprintf(b, sizeof b, "%d/%zu", ps, psize);
    set_hdr("x-resp-pairs", b);
    set_hdr_int("x-bad-map", proxy_get_header_map_value(42, "a", 1, &v, &vn));
    // Out-of-bounds key and out-pointer: INVALID_MEMORY_ACCESS, never a crash.
    set_hdr_int("x-bad-key", proxy_get_header_map_value(0, (const char*)0xFFFFFF00u, 1000, &v, &vn));
    set_hdr_int("x-bad-out", proxy_get_header_map_value(0, ":path", 5, (char**)0xFFFFFFF0u, &vn));
    set_hdr_int("x-bad-log", proxy_log(2, (const char*)0x7FFFFFF0u, 100));
    // Address 0 is valid memory.
    set_hdr_int("x-zero-log", proxy_log(1, (const char*)0, 0));
    set_hdr_int("x-unknown-proxy", proxy_frobnicate(1));
    set_hdr_int("x-unknown-wasi", sock_frobnicate(1));
    uint32_t token = 0;
    set_hdr_int("x-http-call", proxy_http_call("c", 1, 0, 0, 0, 0, 0, 0, 1000, &token));
    return 0;
  }
  if (path_is(path, pn, "/setpairs")) {
    char* pairs = 0; size_t psize = 0;
    proxy_get_header_map_pairs(0, &pairs, &psize);
    // Put back what we got (round trip), then the lenient empty forms on the trailers.
    set_hdr_int("x-set-same", proxy_set_header_map_pairs(0, pairs, psize));
    free(pairs);
    set_hdr_int("x-set-empty0", proxy_set_header_map_pairs(1, "", 0));
    set_hdr_int("x-set-empty1", proxy_set_header_map_pairs(1, "\0", 1));
    set_hdr_int("x-set-bad", proxy_set_header_map_pairs(1, "\x05\0\0\0\1\0\0\0", 8));
    return 0;
  }
  if (path_is(path, pn, "/metrics")) {
    set_hdr_int("x-m-inc", proxy_increment_metric(m_counter, 1));
    set_hdr_int("x-m-inc0", proxy_increment_metric(m_counter, 0));
    set_hdr_int("x-m-incneg", proxy_increment_metric(m_counter, -1));
    set_hdr_int("x-m-rec", proxy_record_metric(m_counter, 10));
    set_hdr_int("x-m-gauge", proxy_increment_metric(m_gauge, -5));
    set_hdr_int("x-m-hist", proxy_record_metric(m_hist, 42));
    set_hdr_int("x-m-hist-inc", proxy_increment_metric(m_hist, 1));
    uint64_t v = 0;
    set_hdr_int("x-m-hist-get", proxy_get_metric(m_hist, &v));
    set_hdr_int("x-m-unknown", proxy_get_metric(9999, &v));
    set_hdr_int("x-m-badtype", proxy_define_metric(7, "x", 1, &m_counter + 0));
    proxy_get_metric(m_counter, &v);
    set_hdr_int("x-m-counter", (long)v);
    proxy_get_metric(m_gauge, &v);
    set_hdr_int("x-m-gauge-value", (long)(int64_t)v);
    return 0;
  }
  if (path_is(path, pn, "/props")) {
    char* v = 0; size_t vn = 0;
    if (proxy_get_property("plugin_root_id", 14, &v, &vn) == 0) proxy_add_header_map_value(0, "x-root-id", 9, v, vn);
    if (proxy_get_property("request\0path", 12, &v, &vn) == 0) proxy_add_header_map_value(0, "x-prop-path", 11, v, vn);
    if (proxy_get_property("source\0port", 11, &v, &vn) == 0 && vn == 8) {
      int64_t port; memcpy(&port, v, 8); set_hdr_int("x-src-port", (long)port);
    }
    set_hdr_int("x-prop-unknown", proxy_get_property("foo\0bar", 7, &v, &vn));
    proxy_set_property("my\0prop", 7, "v1", 2);
    if (proxy_get_property("my\0prop", 7, &v, &vn) == 0) proxy_add_header_map_value(0, "x-my-prop", 9, v, vn);
    return 0;
  }
  return 0;
}

EXPORT(proxy_on_request_body) int on_request_body(uint32_t id, size_t size, int eos) {
  if (!eos) return 1;  // buffer until the end
  char* p = 0; size_t n = 0;
  proxy_get_buffer_bytes(0, 0, 0xFFFFFFFFu, &p, &n);
  char msg[64];
  snprintf(msg, sizeof msg, "body %zu/%zu", n, size);
  proxy_log(2, msg, strlen(msg));
  proxy_set_buffer_bytes(0, 0, 0, "<", 1);       // prepend
  proxy_set_buffer_bytes(0, n + 1, 0, ">", 1);   // append
  free(p);
  return 0;
}

EXPORT(proxy_on_response_headers) int on_response_headers(uint32_t id, size_t headers, int eos) {
  proxy_replace_header_map_value(2, "x-plugin", 8, "seen", 4);
  return 0;
}

EXPORT(proxy_on_done) int on_done(uint32_t id) { proxy_increment_metric(lc_done, 1); return 1; }
EXPORT(proxy_on_log) void on_log(uint32_t id) {
  // Request headers are readable in the access-log phase; absent maps are NOT_FOUND.
  char* v = 0; size_t vn = 0;
  if (proxy_get_header_map_value(0, ":path", 5, &v, &vn) == 0) proxy_increment_metric(lc_log, 1);
  free(v);
}
EXPORT(proxy_on_delete) void on_delete(uint32_t id) { proxy_increment_metric(lc_delete, 1); }
EXPORT(proxy_on_tick) void on_tick(uint32_t id) {}
