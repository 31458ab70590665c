// A hostile Proxy-Wasm 0.2.1 plugin (plain C, no SDK) for the host-call safety tests.
//
// Its allocator, proxy_on_memory_allocate, is guest code the host calls in the middle of
// a host call. A callback arms it with an attack, then makes a host call that returns
// data; the allocator attacks the host from inside that call: it changes or frees what is
// being returned (the header map, a header value, the body, shared data, a property, the
// call response), sends a local reply, closes the stream, switches the effective
// context, re-enters recursively, grows memory, or answers with a pointer that is out of
// range or overlaps the call's out-pointers. The plugin then checks what it got.
//
// The request path picks the case (see on_request_headers). The answer is a local reply
// 200 (details "hostile") whose body lists "name=value" lines that the tests read back.
// Built by tests/plugins/CMakeLists.txt (build/plugins/hostile_plugin.wasm) and, at test
// time, by tests/unit/proxy_wasm_hostile_test.cc.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))

IMPORT(proxy_log) int proxy_log(int level, const char* p, size_t n);
IMPORT(proxy_get_buffer_bytes)
int proxy_get_buffer_bytes(int t, size_t start, size_t max, char** p, size_t* n);
IMPORT(proxy_set_buffer_bytes)
int proxy_set_buffer_bytes(int t, size_t start, size_t len, const char* d, size_t n);
IMPORT(proxy_get_header_map_value)
int proxy_get_header_map_value(int t, const char* k, size_t kn, char** v, size_t* vn);
IMPORT(proxy_get_header_map_pairs) int proxy_get_header_map_pairs(int t, char** p, size_t* n);
IMPORT(proxy_add_header_map_value)
int proxy_add_header_map_value(int t, const char* k, size_t kn, const char* v, size_t vn);
IMPORT(proxy_replace_header_map_value)
int proxy_replace_header_map_value(int t, const char* k, size_t kn, const char* v, size_t vn);
IMPORT(proxy_remove_header_map_value)
int proxy_remove_header_map_value(int t, const char* k, size_t kn);
IMPORT(proxy_send_local_response)
int proxy_send_local_response(uint32_t status, const char* d, size_t dn, const char* b, size_t bn,
                              const char* h, size_t hn, int grpc);
IMPORT(proxy_close_stream) int proxy_close_stream(int t);
IMPORT(proxy_continue_stream) int proxy_continue_stream(int t);
IMPORT(proxy_set_effective_context) int proxy_set_effective_context(uint32_t id);
IMPORT(proxy_get_property) int proxy_get_property(const char* p, size_t n, char** v, size_t* vn);
IMPORT(proxy_set_property)
int proxy_set_property(const char* p, size_t n, const char* v, size_t vn);
IMPORT(proxy_get_shared_data)
int proxy_get_shared_data(const char* k, size_t kn, char** v, size_t* vn, uint32_t* cas);
IMPORT(proxy_set_shared_data)
int proxy_set_shared_data(const char* k, size_t kn, const char* v, size_t vn, uint32_t cas);
IMPORT(proxy_register_shared_queue)
int proxy_register_shared_queue(const char* n, size_t nn, uint32_t* token);
IMPORT(proxy_enqueue_shared_queue)
int proxy_enqueue_shared_queue(uint32_t token, const char* d, size_t n);
IMPORT(proxy_dequeue_shared_queue)
int proxy_dequeue_shared_queue(uint32_t token, char** p, size_t* n);
IMPORT(proxy_http_call)
int proxy_http_call(const char* u, size_t un, const char* h, size_t hn, const char* b, size_t bn,
                    const char* t, size_t tn, uint32_t timeout_ms, uint32_t* token);
IMPORT(proxy_define_metric)
int proxy_define_metric(int type, const char* n, size_t nn, uint32_t* id);
IMPORT(proxy_increment_metric) int proxy_increment_metric(uint32_t id, int64_t d);

typedef struct {
  uint32_t ptr;
  uint32_t len;
} iovec32;
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_write"))) int wasi_fd_write(
    int fd, const iovec32* iovs, size_t n, size_t* written);

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}

// ---------------------------------------------------------------- reporting

static char g_report[64 * 1024];
static size_t g_report_len;

static void rep(const char* name, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = sizeof g_report - g_report_len;
  int n = snprintf(g_report + g_report_len, room, "%s=", name);
  if (n > 0 && (size_t)n < room) g_report_len += (size_t)n;
  room = sizeof g_report - g_report_len;
  n = vsnprintf(g_report + g_report_len, room, fmt, ap);
  if (n > 0 && (size_t)n < room) g_report_len += (size_t)n;
  if (g_report_len + 1 < sizeof g_report) g_report[g_report_len++] = '\n';
  va_end(ap);
}

static void answer(void) {
  proxy_send_local_response(200, "hostile", 7, g_report, g_report_len, 0, 0, -1);
}

// ---------------------------------------------------------------- small helpers

static const char* S(const char* s) { return s; }
#define STR(s) S(s), strlen(s)

static char g_big[128 * 1024];  // filler for large values

// Returns the count field of a serialized map and whether `key` is in it (-1: malformed).
static int map_count(const char* p, size_t n) {
  if (!p || n < 4) return n == 0 ? 0 : -1;
  uint32_t c;
  memcpy(&c, p, 4);
  return (int)c;
}
static int map_has(const char* p, size_t n, const char* key, char* value_out, size_t value_room) {
  if (!p || n < 4) return 0;
  uint32_t c;
  memcpy(&c, p, 4);
  if (c > (n - 4) / 8) return -1;
  size_t pos = 4 + 8 * (size_t)c;
  for (uint32_t i = 0; i < c; ++i) {
    uint32_t kl, vl;
    memcpy(&kl, p + 4 + 8 * i, 4);
    memcpy(&vl, p + 8 + 8 * i, 4);
    if (pos + kl + 1 + vl + 1 > n) return -1;
    const char* k = p + pos;
    const char* v = k + kl + 1;
    if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
      if (value_out) snprintf(value_out, value_room, "%.*s", (int)vl, v);
      return 1;
    }
    pos += kl + 1 + vl + 1;
  }
  return 0;
}

// ---------------------------------------------------------------- the allocator

enum Attack {
  A_NONE,
  A_GROW_MAP,      // add a 64 KiB header, replace :path, remove x-one
  A_KILL_VALUE,    // remove x-victim and add 200 headers (the map's storage moves)
  A_REPLACE_BODY,  // replace the buffer g_buffer_type with "short"
  A_SET_SHARED,    // set the shared data being read to 10 KiB
  A_SET_PROPERTY,  // replace my_prop and set 100 more properties (storage moves)
  A_ADD_HEADER,    // add x-attack to the request headers
  A_LOCAL_REPLY,   // send a 403 local reply
  A_CLOSE,         // close the stream
  A_RECURSE,       // make the same host call again, from every allocation
  A_GROW_MEMORY,   // memory.grow(g_grow_pages)
  A_EFFECTIVE,     // switch to the root context and try to add a header there
  A_DEQUEUE,       // enqueue "second" and dequeue it
  A_CALL_HEADERS,  // add a 64 KiB header to the http call response headers
  A_CONFIG,        // read the plugin configuration again
  A_LOG,           // log 256 KiB, and write 256 KiB to stdout without a newline
  A_BAD_PTR,       // answer a pointer far past the memory
  A_PTR_END,       // answer a block that straddles the end of the memory
  A_ZERO,          // answer 0
  A_OVERLAP,       // answer the address of the call's own out-pointers
};

static enum Attack g_attack = A_NONE;
static int g_buffer_type = 0;
static uint32_t g_grow_pages = 0;
static uint32_t g_root_id, g_stream_id, g_queue;
static int g_depth, g_deepest, g_refused_status, g_nested_status;
static char g_nested_value[256];

// The out-pointers of the A_OVERLAP case, with room after them for what the host copies.
static struct {
  char* ptr;
  size_t size;
  char room[64 * 1024];
} g_out;

static void attack(enum Attack a, size_t size) {
  char* p = 0;
  size_t n = 0;
  switch (a) {
    case A_GROW_MAP:
      proxy_add_header_map_value(0, STR("x-attack"), g_big, 64 * 1024);
      proxy_replace_header_map_value(0, STR(":path"), STR("/changed"));
      proxy_remove_header_map_value(0, STR("x-one"));
      break;
    case A_KILL_VALUE:
      proxy_remove_header_map_value(0, STR("x-victim"));
      for (int i = 0; i < 200; ++i) {
        char k[32];
        snprintf(k, sizeof k, "x-filler-%d", i);
        proxy_add_header_map_value(0, k, strlen(k), g_big, 40);
      }
      break;
    case A_REPLACE_BODY:
      proxy_set_buffer_bytes(g_buffer_type, 0, 0xFFFFFFFFu, STR("short"));
      break;
    case A_SET_SHARED:
      proxy_set_shared_data(STR("hostile-k"), g_big, 10 * 1024, 0);
      break;
    case A_SET_PROPERTY:
      proxy_set_property(STR("my_prop"), STR("replaced"));
      for (int i = 0; i < 100; ++i) {
        char k[32];
        snprintf(k, sizeof k, "p%d", i);
        proxy_set_property(k, strlen(k), g_big, 40);
      }
      break;
    case A_ADD_HEADER:
      proxy_add_header_map_value(0, STR("x-attack"), STR("1"));
      break;
    case A_LOCAL_REPLY:
      proxy_send_local_response(403, STR("from_allocator"), STR("denied by the allocator"), 0, 0,
                                -1);
      break;
    case A_CLOSE:
      proxy_close_stream(0);
      break;
    case A_RECURSE: {
      ++g_depth;
      if (g_depth > g_deepest) g_deepest = g_depth;
      g_attack = A_RECURSE;
      int s = proxy_get_header_map_pairs(0, &p, &n);
      g_attack = A_NONE;
      if (s != 0) g_refused_status = s;
      if (s == 0) free(p);
      --g_depth;
      break;
    }
    case A_GROW_MEMORY:
      __builtin_wasm_memory_grow(0, g_grow_pages);
      break;
    case A_EFFECTIVE:
      g_nested_status = proxy_set_effective_context(g_root_id);
      if (g_nested_status == 0) {
        g_nested_status = proxy_add_header_map_value(0, STR("x-from-root"), STR("1"));
      }
      break;
    case A_DEQUEUE:
      proxy_enqueue_shared_queue(g_queue, STR("second"));
      g_nested_status = proxy_dequeue_shared_queue(g_queue, &p, &n);
      if (g_nested_status == 0) {
        snprintf(g_nested_value, sizeof g_nested_value, "%.*s", (int)n, p);
        free(p);
      }
      break;
    case A_CALL_HEADERS:
      g_nested_status = proxy_add_header_map_value(6, STR("x-attack"), g_big, 64 * 1024);
      break;
    case A_CONFIG:
      g_nested_status = proxy_get_buffer_bytes(7, 0, 0xFFFFFFFFu, &p, &n);
      if (g_nested_status == 0) {
        snprintf(g_nested_value, sizeof g_nested_value, "%.*s", (int)n, p);
        free(p);
      }
      break;
    case A_LOG: {
      proxy_log(2, g_big, 256 * 1024);
      iovec32 iov = {(uint32_t)(uintptr_t)g_big, 256 * 1024};
      size_t written = 0;
      wasi_fd_write(1, &iov, 1, &written);
      break;
    }
    default:
      break;
  }
  (void)size;
}

EXPORT(proxy_on_memory_allocate) void* on_memory_allocate(size_t size) {
  enum Attack a = g_attack;
  g_attack = A_NONE;  // one shot: host calls the attack makes allocate normally
  attack(a, size);
  switch (a) {
    case A_BAD_PTR:
      return (void*)(uintptr_t)0xFFFFFF00u;
    case A_PTR_END:
      return (void*)(uintptr_t)(__builtin_wasm_memory_size(0) * 65536 - size + 1);
    case A_ZERO:
      return 0;
    case A_OVERLAP:
      return &g_out;
    default:
      return malloc(size);
  }
}

// ---------------------------------------------------------------- the cases

static char g_path[256];
static char g_config[256];

static void header_value(const char* key, char* out, size_t room, int* status) {
  char* p = 0;
  size_t n = 0;
  int s = proxy_get_header_map_value(0, key, strlen(key), &p, &n);
  if (status) *status = s;
  snprintf(out, room, "%.*s", s == 0 ? (int)n : 0, s == 0 && p ? p : "");
  free(p);
}

static void case_pairs(void) {
  char* p = 0;
  size_t n = 0;
  char path[64] = "";
  g_attack = A_GROW_MAP;
  int s = proxy_get_header_map_pairs(0, &p, &n);
  rep("status", "%d", s);
  rep("count", "%d", map_count(p, n));
  rep("has_attack", "%d", map_has(p, n, "x-attack", 0, 0));
  rep("has_one", "%d", map_has(p, n, "x-one", 0, 0));
  map_has(p, n, ":path", path, sizeof path);
  rep("path", "%s", path);
  free(p);
  // The allocator's changes are there now.
  char now[64];
  int st = 0;
  header_value(":path", now, sizeof now, &st);
  rep("path_now", "%s", now);
  p = 0;
  int s2 = proxy_get_header_map_value(0, STR("x-attack"), &p, &n);
  rep("attack_len_now", "%d", s2 == 0 ? (int)n : -1);
  free(p);
}

static void case_value(void) {
  char* p = 0;
  size_t n = 0;
  g_attack = A_KILL_VALUE;
  int s = proxy_get_header_map_value(0, STR("x-victim"), &p, &n);
  rep("status", "%d", s);
  rep("value", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  free(p);
  char now[64];
  int st = 0;
  header_value("x-victim", now, sizeof now, &st);
  rep("victim_now", "%d", st);
}

static void case_property(void) {
  const char* original = "an original value, long enough to live on the heap";
  proxy_set_property(STR("my_prop"), STR(original));
  char* p = 0;
  size_t n = 0;
  g_attack = A_SET_PROPERTY;
  int s = proxy_get_property(STR("my_prop"), &p, &n);
  rep("status", "%d", s);
  rep("value", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  free(p);
  p = 0;
  s = proxy_get_property(STR("my_prop"), &p, &n);
  rep("value_now", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  free(p);
}

static void case_property_headers(void) {
  char* p = 0;
  size_t n = 0;
  g_attack = A_ADD_HEADER;
  int s = proxy_get_property("request\0headers", 15, &p, &n);
  rep("status", "%d", s);
  rep("has_attack", "%d", map_has(p, n, "x-attack", 0, 0));
  rep("has_path", "%d", map_has(p, n, ":path", 0, 0));
  free(p);
}

static void case_shared(void) {
  char* p = 0;
  size_t n = 0;
  uint32_t cas0 = 0, cas = 0;
  proxy_set_shared_data(STR("hostile-k"), STR("small value"), 0);
  proxy_get_shared_data(STR("hostile-k"), &p, &n, &cas0);
  free(p);
  p = 0;
  g_attack = A_SET_SHARED;
  int s = proxy_get_shared_data(STR("hostile-k"), &p, &n, &cas);
  rep("status", "%d", s);
  rep("value", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  rep("same_cas", "%d", cas == cas0);
  free(p);
  p = 0;
  uint32_t cas_now = 0;
  s = proxy_get_shared_data(STR("hostile-k"), &p, &n, &cas_now);
  rep("size_now", "%d", s == 0 ? (int)n : -1);
  rep("cas_changed", "%d", cas_now != cas0);
  free(p);
}

static void case_config(void) {
  char* p = 0;
  size_t n = 0;
  g_attack = A_CONFIG;
  int s = proxy_get_buffer_bytes(7, 0, 0xFFFFFFFFu, &p, &n);
  rep("status", "%d", s);
  rep("value", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  rep("nested_status", "%d", g_nested_status);
  rep("nested_value", "%s", g_nested_value);
  free(p);
}

static void case_recurse(void) {
  char* p = 0;
  size_t n = 0;
  g_depth = g_deepest = g_refused_status = 0;
  g_attack = A_RECURSE;
  int s = proxy_get_header_map_pairs(0, &p, &n);
  rep("status", "%d", s);
  rep("count", "%d", map_count(p, n));
  rep("deepest", "%d", g_deepest);
  rep("refused_status", "%d", g_refused_status);
  free(p);
}

static void case_grow(uint32_t pages) {
  char* p = 0;
  size_t n = 0;
  size_t before = __builtin_wasm_memory_size(0);
  g_grow_pages = pages;
  g_attack = A_GROW_MEMORY;
  int s = proxy_get_header_map_pairs(0, &p, &n);
  rep("status", "%d", s);
  rep("count", "%d", map_count(p, n));
  rep("has_path", "%d", map_has(p, n, ":path", 0, 0));
  rep("grew_pages", "%d", (int)(__builtin_wasm_memory_size(0) - before));
  free(p);
}

static void case_pointer(enum Attack a) {
  char* p = 0;
  size_t n = 0;
  g_attack = a;
  int s = proxy_get_header_map_value(0, STR(":path"), &p, &n);
  rep("status", "%d", s);
  // The plugin goes on working.
  char path[64];
  int st = 0;
  header_value(":path", path, sizeof path, &st);
  rep("path_after", "%s", path);
}

static void case_overlap(void) {
  g_attack = A_OVERLAP;
  int s = proxy_get_header_map_value(0, STR("x-victim"), &g_out.ptr, &g_out.size);
  rep("status", "%d", s);
  rep("ptr_is_block", "%d", (void*)g_out.ptr == (void*)&g_out);
  rep("size", "%d", (int)g_out.size);
}

static void case_effective(uint32_t stream_id) {
  char* p = 0;
  size_t n = 0;
  g_attack = A_EFFECTIVE;
  int s = proxy_get_header_map_pairs(0, &p, &n);
  rep("status", "%d", s);
  rep("has_path", "%d", map_has(p, n, ":path", 0, 0));
  rep("nested_status", "%d", g_nested_status);
  free(p);
  // Still the stream's context.
  rep("after_status", "%d", proxy_add_header_map_value(0, STR("x-after"), STR("1")));
  (void)stream_id;
}

static void case_dequeue(void) {
  char* p = 0;
  size_t n = 0;
  proxy_enqueue_shared_queue(g_queue, STR("first"));
  g_attack = A_DEQUEUE;
  g_nested_value[0] = 0;
  int s = proxy_dequeue_shared_queue(g_queue, &p, &n);
  rep("status", "%d", s);
  rep("value", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  rep("nested_status", "%d", g_nested_status);
  rep("nested_value", "%s", g_nested_value);
  free(p);
}

static void case_log(void) {
  char* p = 0;
  size_t n = 0;
  g_attack = A_LOG;
  int s = proxy_get_header_map_pairs(0, &p, &n);
  rep("status", "%d", s);
  free(p);
  // A second line after the long one, to see the first one ended.
  static const char tail[] = "\nafter the long line\n";
  iovec32 iov = {(uint32_t)(uintptr_t)tail, sizeof tail - 1};
  size_t written = 0;
  rep("fd_write", "%d", wasi_fd_write(1, &iov, 1, &written));
  rep("written", "%d", (int)written);
}

// Many iovecs, and more bytes than one fd_write takes.
static void case_iovecs(void) {
  static iovec32 iovs[2048];
  for (int i = 0; i < 2048; ++i) iovs[i] = (iovec32){(uint32_t)(uintptr_t)g_big, 1024};
  size_t written = 0;
  rep("too_many", "%d", wasi_fd_write(1, iovs, 2048, &written));
  written = 0;
  rep("many", "%d", wasi_fd_write(1, iovs, 1024, &written));
  rep("many_written", "%d", (int)written);
  iovs[0] = (iovec32){0xFFFFFF00u, 512};
  rep("bad_iovec", "%d", wasi_fd_write(1, iovs, 1, &written));
  rep("bad_array", "%d", wasi_fd_write(1, (const iovec32*)(uintptr_t)0xFFFFFFF8u, 2, &written));
  static const char nl[] = "\n";
  iovs[0] = (iovec32){(uint32_t)(uintptr_t)nl, 1};
  wasi_fd_write(1, iovs, 1, &written);
}

// Limits: each reports how many operations succeeded and the status of the first refused.
static void case_calls(int n) {
  static const char hdrs[] =
      "\x03\0\0\0"
      "\x07\0\0\0\x03\0\0\0"
      "\x05\0\0\0\x06\0\0\0"
      "\x0a\0\0\0\x07\0\0\0"
      ":method\0GET\0"
      ":path\0/never\0"
      ":authority\0hostile\0";
  int ok = 0, refused = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t token = 0;
    int s = proxy_http_call(STR("blackhole"), hdrs, sizeof hdrs - 1, 0, 0, 0, 0, 500, &token);
    if (s == 0) {
      ++ok;
    } else if (!refused) {
      refused = s;
    }
  }
  rep("accepted", "%d", ok);
  rep("refused_status", "%d", refused);
}

static uint32_t g_call_token;  // the call of the current /call/ request

static int call_upstream(const char* path) {
  char hdrs[256];
  size_t plen = strlen(path);
  uint32_t c = 3, k1 = 7, v1 = 3, k2 = 5, v2 = (uint32_t)plen, k3 = 10, v3 = 7;
  char* w = hdrs;
  memcpy(w, &c, 4), w += 4;
  memcpy(w, &k1, 4), w += 4, memcpy(w, &v1, 4), w += 4;
  memcpy(w, &k2, 4), w += 4, memcpy(w, &v2, 4), w += 4;
  memcpy(w, &k3, 4), w += 4, memcpy(w, &v3, 4), w += 4;
  memcpy(w, ":method\0GET\0", 12), w += 12;
  memcpy(w, ":path\0", 6), w += 6;
  memcpy(w, path, plen + 1), w += plen + 1;
  memcpy(w, ":authority\0hostile\0", 19), w += 19;
  uint32_t token = 0;
  int s = proxy_http_call(STR("upstream"), hdrs, (size_t)(w - hdrs), 0, 0, 0, 0, 5000, &token);
  rep("call_status", "%d", s);
  g_call_token = token;
  return s;
}

// An http call whose request is larger than the plugin's max_call_response_bytes (1 MiB in
// the tests): the host would copy and hold it for as long as the call lasts.
static void case_big_request(void) {
  size_t size = 2 * 1024 * 1024;
  char* body = malloc(size);
  memset(body, 'r', size);
  static const char hdrs[] =
      "\x03\0\0\0"
      "\x07\0\0\0\x04\0\0\0"
      "\x05\0\0\0\x05\0\0\0"
      "\x0a\0\0\0\x07\0\0\0"
      ":method\0POST\0"
      ":path\0/echo\0"
      ":authority\0hostile\0";
  uint32_t token = 0;
  rep("status", "%d",
      proxy_http_call(STR("upstream"), hdrs, sizeof hdrs - 1, body, size, 0, 0, 1000, &token));
  free(body);
}

static void case_shared_flood(void) {
  int ok = 0, refused = 0;
  for (int i = 0; i < 100000 && !refused; ++i) {
    char k[32];
    snprintf(k, sizeof k, "flood-%d", i);
    int s = proxy_set_shared_data(k, strlen(k), g_big, 1000, 0);
    if (s == 0) {
      ++ok;
    } else {
      refused = s;
    }
  }
  rep("stored", "%d", ok);
  rep("refused_status", "%d", refused);
  // Shrinking an existing key always works.
  rep("shrink_status", "%d", proxy_set_shared_data(STR("flood-0"), 0, 0, 0));
}

static void case_queue_flood(void) {
  int ok = 0, refused = 0;
  for (int i = 0; i < 100000 && !refused; ++i) {
    int s = proxy_enqueue_shared_queue(g_queue, STR("item"));
    if (s == 0) {
      ++ok;
    } else {
      refused = s;
    }
  }
  rep("queued", "%d", ok);
  rep("refused_status", "%d", refused);
  char* p = 0;
  size_t n = 0;
  int drained = 0;
  while (proxy_dequeue_shared_queue(g_queue, &p, &n) == 0) {
    free(p);
    ++drained;
  }
  rep("drained", "%d", drained);
}

static void case_metrics(void) {
  static const char* names[] = {
      "http.ingress_http.downstream_rq_total",
      "cluster.upstream.upstream_rq_200",
      "server.live",
      "wasm.plugin.hostile.vm_failures",
      "listener.127.0.0.1_80.downstream_cx_total",
      "runtime.load_success",
      "envoy_cluster_upstream_rq_total",
      "envoy.anything",
      "",
      "hostile.requests",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    uint32_t id = 0;
    int s = proxy_define_metric(0, names[i], strlen(names[i]), &id);
    char key[96];
    snprintf(key, sizeof key, "counter %s", names[i]);
    rep(key, "%d", s);
    if (s == 0) proxy_increment_metric(id, 1);
  }
  uint32_t id = 0;
  // The same name as a gauge: one name is one stat.
  rep("gauge hostile.requests", "%d", proxy_define_metric(1, STR("hostile.requests"), &id));
  rep("gauge hostile.level", "%d", proxy_define_metric(1, STR("hostile.level"), &id));
}

static void case_big_log(void) {
  rep("log", "%d", proxy_log(2, g_big, 100 * 1024));
  // 3 MiB without a newline through fd_write, a short write at a time.
  iovec32 iov = {(uint32_t)(uintptr_t)g_big, sizeof g_big};
  size_t total = 0;
  for (int i = 0; i < 24; ++i) {
    size_t written = 0;
    if (wasi_fd_write(1, &iov, 1, &written) != 0) break;
    total += written;
  }
  static const char tail[] = "\nthe line after\n";
  iovec32 t = {(uint32_t)(uintptr_t)tail, sizeof tail - 1};
  size_t written = 0;
  wasi_fd_write(1, &t, 1, &written);
  rep("stdout_bytes", "%d", (int)total);
}

// ---------------------------------------------------------------- callbacks

EXPORT(proxy_on_context_create) void on_context_create(uint32_t id, uint32_t parent) {
  if (parent == 0) g_root_id = id;
}

EXPORT(proxy_on_vm_start) int on_vm_start(uint32_t id, size_t size) {
  memset(g_big, 'a', sizeof g_big);
  return 1;
}

EXPORT(proxy_on_configure) int on_configure(uint32_t id, size_t size) {
  char* p = 0;
  size_t n = 0;
  if (size > 0 && proxy_get_buffer_bytes(7, 0, 0xFFFFFFFFu, &p, &n) == 0) {
    snprintf(g_config, sizeof g_config, "%.*s", (int)n, p);
    free(p);
  }
  proxy_register_shared_queue(STR("hostile-q"), &g_queue);
  return 1;
}

static int is(const char* path) { return strcmp(g_path, path) == 0; }

static void case_grow_some(void) { case_grow(512); }          // 32 MiB
static void case_grow_past_limit(void) { case_grow(16384); }  // 1 GiB
static void case_bad_pointer(void) { case_pointer(A_BAD_PTR); }
static void case_pointer_at_end(void) { case_pointer(A_PTR_END); }
static void case_zero_pointer(void) { case_pointer(A_ZERO); }
static void case_effective_here(void) { case_effective(g_stream_id); }
static void case_40_calls(void) { case_calls(40); }

// Cases answered with the report (a local reply 200).
static const struct {
  const char* path;
  void (*run)(void);
} kCases[] = {
    {"/pairs", case_pairs},
    {"/value", case_value},
    {"/property", case_property},
    {"/property-headers", case_property_headers},
    {"/shared", case_shared},
    {"/config", case_config},
    {"/recurse", case_recurse},
    {"/grow", case_grow_some},
    {"/grow-past-limit", case_grow_past_limit},
    {"/bad-pointer", case_bad_pointer},
    {"/pointer-at-end", case_pointer_at_end},
    {"/zero-pointer", case_zero_pointer},
    {"/overlap", case_overlap},
    {"/effective", case_effective_here},
    {"/dequeue", case_dequeue},
    {"/log", case_log},
    {"/iovecs", case_iovecs},
    {"/calls", case_40_calls},
    {"/shared-flood", case_shared_flood},
    {"/queue-flood", case_queue_flood},
    {"/metrics", case_metrics},
    {"/big-log", case_big_log},
    {"/big-request", case_big_request},
};

EXPORT(proxy_on_request_headers) int on_request_headers(uint32_t id, uint32_t n, int eos) {
  g_report_len = 0;
  g_stream_id = id;
  int st = 0;
  header_value(":path", g_path, sizeof g_path, &st);
  for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; ++i) {
    if (is(kCases[i].path)) {
      kCases[i].run();
      answer();
      return 1;
    }
  }
  if (is("/local-reply") || is("/close")) {
    char* p = 0;
    size_t len = 0;
    g_attack = is("/close") ? A_CLOSE : A_LOCAL_REPLY;
    int s = proxy_get_header_map_pairs(0, &p, &len);
    free(p);
    char msg[64];
    snprintf(msg, sizeof msg, "%s: status %d", g_path, s);
    proxy_log(2, msg, strlen(msg));
    return 0;  // the allocator answered (or closed) already
  }
  if (strncmp(g_path, "/call/", 6) == 0) {
    // The rest of the path goes to the upstream; the answer comes in
    // on_http_call_response.
    if (call_upstream(g_path + 5) != 0) answer();
    return 1;
  }
  return 0;  // "/body" (see on_request_body), or not a hostile case: proxied as is
}

EXPORT(proxy_on_request_body) int on_request_body(uint32_t id, uint32_t size, int eos) {
  if (!is("/body")) return 0;
  if (!eos) return 1;  // buffer until the end
  char* p = 0;
  size_t n = 0;
  g_buffer_type = 0;
  g_attack = A_REPLACE_BODY;
  int s = proxy_get_buffer_bytes(0, 0, 0xFFFFFFFFu, &p, &n);
  rep("status", "%d", s);
  rep("length", "%d", s == 0 ? (int)n : -1);
  int all_b = s == 0;
  for (size_t i = 0; all_b && i < n; ++i) all_b = p[i] == 'b';
  rep("intact", "%d", all_b);
  free(p);
  p = 0;
  s = proxy_get_buffer_bytes(0, 0, 0xFFFFFFFFu, &p, &n);
  rep("now", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
  free(p);
  answer();
  return 1;
}

EXPORT(proxy_on_http_call_response)
void on_http_call_response(uint32_t root, uint32_t token, uint32_t headers, uint32_t body_size,
                           uint32_t trailers) {
  if (token != g_call_token) return;  // one of the /calls flood, answered late
  char* p = 0;
  size_t n = 0;
  rep("headers", "%u", headers);
  rep("body_size", "%u", body_size);
  if (headers > 0) {
    g_attack = A_CALL_HEADERS;
    int s = proxy_get_header_map_pairs(6, &p, &n);
    rep("pairs_status", "%d", s);
    rep("pairs_count", "%d", map_count(p, n));
    rep("pairs_has_attack", "%d", map_has(p, n, "x-attack", 0, 0));
    rep("nested_status", "%d", g_nested_status);
    free(p);
    p = 0;
    g_buffer_type = 4;
    g_attack = A_REPLACE_BODY;
    s = proxy_get_buffer_bytes(4, 0, 0xFFFFFFFFu, &p, &n);
    rep("body_status", "%d", s);
    rep("body_length", "%d", s == 0 ? (int)n : -1);
    free(p);
    p = 0;
    s = proxy_get_buffer_bytes(4, 0, 0xFFFFFFFFu, &p, &n);
    rep("body_now", "%.*s", s == 0 ? (int)n : 0, s == 0 ? p : "");
    free(p);
  }
  proxy_set_effective_context(g_stream_id);
  answer();
}
