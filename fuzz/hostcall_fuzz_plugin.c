// The guest half of weir_hostcall_fuzz: a Proxy-Wasm 0.2.1 plugin (plain C, no SDK) that
// reads a byte script from the host and makes the host calls it describes, with the
// arguments it describes: valid pointers into a scratch area, raw 32-bit values, null,
// the last bytes of linear memory, out-pointers that overlap the inputs. Its allocator
// (guest code the host calls in the middle of a host call) can be told to fail, to return
// a bad pointer, or to run part of the script itself (re-entrancy).
//
// The host passes the script as the request body: proxy_on_request_body reads it with
// proxy_get_buffer_bytes and runs it. The same script then runs from the response
// callbacks, the root context's tick and the http-call answer when the harness drives
// them, so that host calls meet every context kind.
//
// Built by fuzz/CMakeLists.txt with clang --target=wasm32-wasi.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define WASI(n) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))

typedef uint32_t u32;
typedef uint64_t u64;

// Every host function, with raw 32-bit arguments: the script decides what they mean.
IMPORT(proxy_log) u32 h_log(u32, u32, u32);
IMPORT(proxy_get_log_level) u32 h_get_log_level(u32);
IMPORT(proxy_get_current_time_nanoseconds) u32 h_time(u32);
IMPORT(proxy_set_tick_period_milliseconds) u32 h_tick(u32);
IMPORT(proxy_set_effective_context) u32 h_effective(u32);
IMPORT(proxy_done) u32 h_done(void);
IMPORT(proxy_get_buffer_bytes) u32 h_get_buffer(u32, u32, u32, u32, u32);
IMPORT(proxy_get_buffer_status) u32 h_buffer_status(u32, u32, u32);
IMPORT(proxy_set_buffer_bytes) u32 h_set_buffer(u32, u32, u32, u32, u32);
IMPORT(proxy_get_header_map_value) u32 h_get_value(u32, u32, u32, u32, u32);
IMPORT(proxy_get_header_map_pairs) u32 h_get_pairs(u32, u32, u32);
IMPORT(proxy_set_header_map_pairs) u32 h_set_pairs(u32, u32, u32);
IMPORT(proxy_get_header_map_size) u32 h_map_size(u32, u32);
IMPORT(proxy_add_header_map_value) u32 h_add(u32, u32, u32, u32, u32);
IMPORT(proxy_replace_header_map_value) u32 h_replace(u32, u32, u32, u32, u32);
IMPORT(proxy_remove_header_map_value) u32 h_remove(u32, u32, u32);
IMPORT(proxy_get_property) u32 h_get_property(u32, u32, u32, u32);
IMPORT(proxy_set_property) u32 h_set_property(u32, u32, u32, u32);
IMPORT(proxy_send_local_response) u32 h_local_reply(u32, u32, u32, u32, u32, u32, u32, u32);
IMPORT(proxy_continue_stream) u32 h_continue(u32);
IMPORT(proxy_close_stream) u32 h_close(u32);
IMPORT(proxy_get_status) u32 h_get_status(u32, u32, u32);
IMPORT(proxy_define_metric) u32 h_define_metric(u32, u32, u32, u32);
IMPORT(proxy_increment_metric) u32 h_increment_metric(u32, int64_t);
IMPORT(proxy_record_metric) u32 h_record_metric(u32, u64);
IMPORT(proxy_get_metric) u32 h_get_metric(u32, u32);
IMPORT(proxy_http_call) u32 h_http_call(u32, u32, u32, u32, u32, u32, u32, u32, u32, u32);
IMPORT(proxy_set_shared_data) u32 h_set_shared(u32, u32, u32, u32, u32);
IMPORT(proxy_get_shared_data) u32 h_get_shared(u32, u32, u32, u32, u32);
IMPORT(proxy_register_shared_queue) u32 h_register_queue(u32, u32, u32);
IMPORT(proxy_resolve_shared_queue) u32 h_resolve_queue(u32, u32, u32, u32, u32);
IMPORT(proxy_enqueue_shared_queue) u32 h_enqueue(u32, u32, u32);
IMPORT(proxy_dequeue_shared_queue) u32 h_dequeue(u32, u32, u32);
IMPORT(proxy_call_foreign_function) u32 h_foreign(u32, u32, u32, u32, u32, u32);
IMPORT(proxy_grpc_call) u32 h_grpc_call(u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32);
WASI(fd_write) u32 w_fd_write(u32, u32, u32, u32);
WASI(fd_read) u32 w_fd_read(u32, u32, u32, u32);
WASI(fd_seek) u32 w_fd_seek(u32, int64_t, u32, u32);
WASI(fd_fdstat_get) u32 w_fdstat(u32, u32);
WASI(fd_prestat_get) u32 w_prestat(u32, u32);
WASI(fd_prestat_dir_name) u32 w_prestat_name(u32, u32, u32);
WASI(clock_time_get) u32 w_clock(u32, u64, u32);
WASI(random_get) u32 w_random(u32, u32);
WASI(environ_sizes_get) u32 w_environ_sizes(u32, u32);
WASI(environ_get) u32 w_environ(u32, u32);
WASI(args_sizes_get) u32 w_args_sizes(u32, u32);
WASI(args_get) u32 w_args(u32, u32);
WASI(poll_oneoff) u32 w_poll(u32, u32, u32, u32);

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}

// ---------------------------------------------------------------- the script

#define SCRATCH_SIZE 65536
static unsigned char g_scratch[SCRATCH_SIZE];  // strings, maps, out-pointers live here
static const unsigned char* g_script;
static size_t g_script_len;
static size_t g_pos;
static int g_depth;  // nested runs from the allocator
static u32 g_last_status;

static unsigned byte(void) { return g_pos < g_script_len ? g_script[g_pos++] : 0; }
static u32 u16v(void) {
  u32 lo = byte();
  return lo | (byte() << 8);
}
static u32 u32v(void) {
  u32 lo = u16v();
  return lo | (u16v() << 16);
}
static u32 memory_bytes(void) { return (u32)__builtin_wasm_memory_size(0) * 65536u; }

// One argument: what kind of value is the first byte's choice.
static u32 arg(void) {
  unsigned kind = byte();
  switch (kind % 6) {
    case 0:  // a small number: types, sizes, statuses
      return byte();
    case 1:  // a valid pointer into the scratch area
      return (u32)(uintptr_t)(g_scratch + u16v() % SCRATCH_SIZE);
    case 2:  // any 32-bit value
      return u32v();
    case 3: {  // a boundary value
      const u32 edges[] = {0,
                           1,
                           memory_bytes() - 1,
                           memory_bytes() - 4,
                           memory_bytes() - 8,
                           memory_bytes(),
                           0xffffffffu,
                           0x80000000u,
                           (u32)(uintptr_t)(g_scratch + SCRATCH_SIZE - 4),
                           (u32)(uintptr_t)g_scratch,
                           g_last_status};
      return edges[byte() % (sizeof edges / sizeof edges[0])];
    }
    case 4:  // a medium size
      return u16v();
    default:  // the pointer the last call returned through the scratch area's first word
      return *(u32*)g_scratch;
  }
}

// ---------------------------------------------------------------- the allocator

enum AllocMode { ALLOC_MALLOC, ALLOC_NULL, ALLOC_RAW, ALLOC_SCRATCH, ALLOC_RUN };
static int g_alloc_mode;
static u32 g_alloc_raw;
static size_t g_alloc_run_ops;

static void run_ops(size_t count);

EXPORT(proxy_on_memory_allocate) void* on_memory_allocate(size_t size) {
  switch (g_alloc_mode) {
    case ALLOC_NULL:
      return NULL;
    case ALLOC_RAW:
      return (void*)(uintptr_t)g_alloc_raw;
    case ALLOC_SCRATCH:  // overlaps whatever the script put there (out-pointers too)
      return g_scratch + g_alloc_raw % SCRATCH_SIZE;
    case ALLOC_RUN:
      // Host calls from inside a host call; then a real block.
      if (g_depth < 4) {
        ++g_depth;
        g_alloc_mode = ALLOC_MALLOC;
        run_ops(g_alloc_run_ops);
        g_alloc_mode = ALLOC_RUN;
        --g_depth;
      }
      return malloc(size);
    default:
      return malloc(size);
  }
}

// ---------------------------------------------------------------- the interpreter

static void run_op(void) {
  u32 a[12];
  const unsigned op = byte();
  switch (op % 64) {
    case 0: {  // copy script bytes into the scratch area
      u32 at = u16v() % SCRATCH_SIZE;
      u32 n = byte();
      for (u32 i = 0; i < n && at + i < SCRATCH_SIZE; ++i)
        g_scratch[at + i] = (unsigned char)byte();
      return;
    }
    case 1: {  // write a serialized map (count, sizes, NUL-terminated strings) to scratch
      u32 at = u16v() % (SCRATCH_SIZE - 4096);
      u32 count = byte() % 8;
      unsigned char* p = g_scratch + at;
      memcpy(p, &count, 4);
      u32 pos = 4 + 8 * count;
      for (u32 i = 0; i < count; ++i) {
        u32 kl = byte() % 32, vl = byte() % 64;
        memcpy(p + 4 + 8 * i, &kl, 4);
        memcpy(p + 8 + 8 * i, &vl, 4);
        for (u32 j = 0; j < kl; ++j) p[pos++] = (unsigned char)('a' + byte() % 26);
        p[pos++] = 0;
        for (u32 j = 0; j < vl; ++j) p[pos++] = (unsigned char)byte();
        p[pos++] = 0;
      }
      return;
    }
    case 2:
      g_alloc_mode = byte() % 5;
      g_alloc_raw = arg();
      g_alloc_run_ops = byte() % 8;
      return;
    case 3: {  // grow memory by a few pages
      __builtin_wasm_memory_grow(0, byte() % 4);
      return;
    }
    case 4: {  // read through what a call returned: a bad pointer traps the guest, not the host
      u32 p = *(u32*)g_scratch;
      if (p && p < memory_bytes()) g_last_status += *(volatile unsigned char*)(uintptr_t)p;
      return;
    }
    default:
      break;
  }
  for (int i = 0; i < 12; ++i) a[i] = arg();
  u32 r = 0;
  switch (op % 64) {
    case 5:
      r = h_log(a[0] % 8, a[1], a[2]);
      break;
    case 6:
      r = h_get_log_level(a[0]);
      break;
    case 7:
      r = h_time(a[0]);
      break;
    case 8:
      r = h_tick(a[0]);
      break;
    case 9:
      r = h_effective(a[0]);
      break;
    case 10:
      r = h_done();
      break;
    case 11:
      r = h_get_buffer(a[0] % 10, a[1], a[2], a[3], a[4]);
      break;
    case 12:
      r = h_buffer_status(a[0] % 10, a[1], a[2]);
      break;
    case 13:
      r = h_set_buffer(a[0] % 10, a[1], a[2], a[3], a[4]);
      break;
    case 14:
      r = h_get_value(a[0] % 9, a[1], a[2], a[3], a[4]);
      break;
    case 15:
      r = h_get_pairs(a[0] % 9, a[1], a[2]);
      break;
    case 16:
      r = h_set_pairs(a[0] % 9, a[1], a[2]);
      break;
    case 17:
      r = h_map_size(a[0] % 9, a[1]);
      break;
    case 18:
      r = h_add(a[0] % 9, a[1], a[2], a[3], a[4]);
      break;
    case 19:
      r = h_replace(a[0] % 9, a[1], a[2], a[3], a[4]);
      break;
    case 20:
      r = h_remove(a[0] % 9, a[1], a[2]);
      break;
    case 21:
      r = h_get_property(a[0], a[1], a[2], a[3]);
      break;
    case 22:
      r = h_set_property(a[0], a[1], a[2], a[3]);
      break;
    case 23:
      r = h_local_reply(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
      break;
    case 24:
      r = h_continue(a[0] % 5);
      break;
    case 25:
      r = h_close(a[0] % 5);
      break;
    case 26:
      r = h_get_status(a[0], a[1], a[2]);
      break;
    case 27:
      r = h_define_metric(a[0] % 4, a[1], a[2], a[3]);
      break;
    case 28:
      r = h_increment_metric(a[0], (int64_t)(((u64)a[1] << 32) | a[2]));
      break;
    case 29:
      r = h_record_metric(a[0], ((u64)a[1] << 32) | a[2]);
      break;
    case 30:
      r = h_get_metric(a[0], a[1]);
      break;
    case 31:
      r = h_http_call(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
      break;
    case 32:
      r = h_set_shared(a[0], a[1], a[2], a[3], a[4]);
      break;
    case 33:
      r = h_get_shared(a[0], a[1], a[2], a[3], a[4]);
      break;
    case 34:
      r = h_register_queue(a[0], a[1], a[2]);
      break;
    case 35:
      r = h_resolve_queue(a[0], a[1], a[2], a[3], a[4]);
      break;
    case 36:
      r = h_enqueue(a[0], a[1], a[2]);
      break;
    case 37:
      r = h_dequeue(a[0], a[1], a[2]);
      break;
    case 38:
      r = h_foreign(a[0], a[1], a[2], a[3], a[4], a[5]);
      break;
    case 39:
      r = h_grpc_call(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
      break;
    case 40:
      r = w_fd_write(a[0] % 4, a[1], a[2], a[3]);
      break;
    case 41:
      r = w_fd_read(a[0] % 4, a[1], a[2], a[3]);
      break;
    case 42:
      r = w_fd_seek(a[0] % 4, (int64_t)a[1], a[2], a[3]);
      break;
    case 43:
      r = w_fdstat(a[0] % 4, a[1]);
      break;
    case 44:
      r = w_prestat(a[0], a[1]);
      break;
    case 45:
      r = w_prestat_name(a[0], a[1], a[2]);
      break;
    case 46:
      r = w_clock(a[0] % 5, a[1], a[2]);
      break;
    case 47:
      r = w_random(a[0], a[1]);
      break;
    case 48:
      r = w_environ_sizes(a[0], a[1]);
      break;
    case 49:
      r = w_environ(a[0], a[1]);
      break;
    case 50:
      r = w_args_sizes(a[0], a[1]);
      break;
    case 51:
      r = w_args(a[0], a[1]);
      break;
    case 52:
      r = w_poll(a[0], a[1], a[2], a[3]);
      break;
    // The common shapes again, with the out-pointers at the scratch area's start so that
    // case 4 and arg() kind 5 can follow what the host returned.
    case 53:
      r = h_get_pairs(a[0] % 9, (u32)(uintptr_t)g_scratch, (u32)(uintptr_t)(g_scratch + 4));
      break;
    case 54:
      r = h_get_value(a[0] % 9, a[1], a[2] % 64, (u32)(uintptr_t)g_scratch,
                      (u32)(uintptr_t)(g_scratch + 4));
      break;
    case 55:
      r = h_get_buffer(a[0] % 10, a[1], a[2], (u32)(uintptr_t)g_scratch,
                       (u32)(uintptr_t)(g_scratch + 4));
      break;
    case 56:
      r = h_get_property(a[0], a[1] % 128, (u32)(uintptr_t)g_scratch,
                         (u32)(uintptr_t)(g_scratch + 4));
      break;
    case 57:
      r = h_get_shared(a[0], a[1] % 64, (u32)(uintptr_t)g_scratch, (u32)(uintptr_t)(g_scratch + 4),
                       (u32)(uintptr_t)(g_scratch + 8));
      break;
    case 58:
      r = h_dequeue(a[0] % 4, (u32)(uintptr_t)g_scratch, (u32)(uintptr_t)(g_scratch + 4));
      break;
    case 59:
      r = h_set_pairs(a[0] % 9, a[1], a[2] % 4096);
      break;
    case 60:
      r = h_set_buffer(a[0] % 10, a[1] % 256, a[2] % 256, a[3], a[4] % 4096);
      break;
    case 61:
      r = h_add(a[0] % 9, a[1], a[2] % 64, a[3], a[4] % 256);
      break;
    case 62:
      r = h_effective(a[0] % 8);
      break;
    default:
      r = h_get_status(a[0], (u32)(uintptr_t)g_scratch, (u32)(uintptr_t)(g_scratch + 4));
      break;
  }
  g_last_status = r;
}

static void run_ops(size_t count) {
  while (count-- > 0 && g_pos < g_script_len) run_op();
}

// The script, copied out of the host's buffer: host calls may replace that buffer.
static unsigned char g_script_copy[16384];
static size_t g_script_copy_len;

static int g_running;

static void run_script(void) {
  if (g_running) return;  // a callback the host ran from inside one of our host calls
  g_running = 1;
  g_script = g_script_copy;
  g_script_len = g_script_copy_len;
  g_pos = 0;
  g_alloc_mode = ALLOC_MALLOC;
  run_ops((size_t)-1);
  g_alloc_mode = ALLOC_MALLOC;
  g_running = 0;
}

// ---------------------------------------------------------------- callbacks

EXPORT(proxy_on_context_create) void on_context_create(u32 id, u32 parent) {}
EXPORT(proxy_on_vm_start) u32 on_vm_start(u32 id, u32 size) { return 1; }
EXPORT(proxy_on_configure) u32 on_configure(u32 id, u32 size) { return 1; }
EXPORT(proxy_on_request_headers) u32 on_request_headers(u32 id, u32 n, u32 eos) { return 0; }

EXPORT(proxy_on_request_body) u32 on_request_body(u32 id, u32 size, u32 eos) {
  char* p = 0;
  size_t n = 0;
  g_alloc_mode = ALLOC_MALLOC;
  if (h_get_buffer(0, 0, size, (u32)(uintptr_t)&p, (u32)(uintptr_t)&n) != 0 || !p) return 0;
  g_script_copy_len = n < sizeof g_script_copy ? n : sizeof g_script_copy;
  memcpy(g_script_copy, p, g_script_copy_len);
  free(p);
  run_script();
  return g_last_status % 4;
}
EXPORT(proxy_on_request_trailers) u32 on_request_trailers(u32 id, u32 n) {
  run_script();
  return 0;
}
EXPORT(proxy_on_response_headers) u32 on_response_headers(u32 id, u32 n, u32 eos) {
  run_script();
  return g_last_status % 2;
}
EXPORT(proxy_on_response_body) u32 on_response_body(u32 id, u32 size, u32 eos) {
  run_script();
  return 0;
}
EXPORT(proxy_on_tick) void on_tick(u32 id) { run_script(); }
EXPORT(proxy_on_queue_ready) void on_queue_ready(u32 id, u32 token) { run_script(); }
EXPORT(proxy_on_http_call_response)
void on_http_call_response(u32 id, u32 token, u32 headers, u32 body, u32 trailers) { run_script(); }
EXPORT(proxy_on_done) u32 on_done(u32 id) { return 1; }
EXPORT(proxy_on_log) void on_log(u32 id) { run_script(); }
EXPORT(proxy_on_delete) void on_delete(u32 id) {}
