#pragma once
// Raw Proxy-Wasm ABI 0.2.1 host functions (module "env"), as the host exports them.
// Plugins normally use weir/plugin.h instead. Only a function a plugin actually calls
// ends up in its import section.
//
// Conventions: every function returns a weir::Status (as uint32_t). Results come back
// through out-pointers; data the host returns (char**) was allocated with the plugin's
// malloc and belongs to the plugin (free() it). size_t is 32-bit on wasm32.
#include <cstddef>
#include <cstdint>

#if defined(__wasm__)
#define WEIR_HOST_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define WEIR_EXPORT(name) __attribute__((export_name(#name)))
#else
#define WEIR_HOST_IMPORT(name)
#define WEIR_EXPORT(name)
#endif

extern "C" {

// Logging, time, timers.
WEIR_HOST_IMPORT(proxy_log)
uint32_t proxy_log(uint32_t level, const char* message, size_t message_size);
WEIR_HOST_IMPORT(proxy_get_log_level)
uint32_t proxy_get_log_level(uint32_t* level);
WEIR_HOST_IMPORT(proxy_get_current_time_nanoseconds)
uint32_t proxy_get_current_time_nanoseconds(uint64_t* nanoseconds);
WEIR_HOST_IMPORT(proxy_set_tick_period_milliseconds)
uint32_t proxy_set_tick_period_milliseconds(uint32_t period_ms);

// Context lifecycle.
WEIR_HOST_IMPORT(proxy_done)
uint32_t proxy_done();
WEIR_HOST_IMPORT(proxy_set_effective_context)
uint32_t proxy_set_effective_context(uint32_t context_id);

// Buffers (bodies, configuration, call responses).
WEIR_HOST_IMPORT(proxy_get_buffer_bytes)
uint32_t proxy_get_buffer_bytes(uint32_t type, size_t start, size_t max_size, char** data,
                                size_t* size);
WEIR_HOST_IMPORT(proxy_set_buffer_bytes)
uint32_t proxy_set_buffer_bytes(uint32_t type, size_t start, size_t length, const char* data,
                                size_t size);
WEIR_HOST_IMPORT(proxy_get_buffer_status)
uint32_t proxy_get_buffer_status(uint32_t type, size_t* size, uint32_t* flags);

// Header maps.
WEIR_HOST_IMPORT(proxy_get_header_map_pairs)
uint32_t proxy_get_header_map_pairs(uint32_t type, char** data, size_t* size);
WEIR_HOST_IMPORT(proxy_set_header_map_pairs)
uint32_t proxy_set_header_map_pairs(uint32_t type, const char* data, size_t size);
WEIR_HOST_IMPORT(proxy_get_header_map_size)
uint32_t proxy_get_header_map_size(uint32_t type, size_t* size);
WEIR_HOST_IMPORT(proxy_get_header_map_value)
uint32_t proxy_get_header_map_value(uint32_t type, const char* key, size_t key_size, char** value,
                                    size_t* value_size);
WEIR_HOST_IMPORT(proxy_add_header_map_value)
uint32_t proxy_add_header_map_value(uint32_t type, const char* key, size_t key_size,
                                    const char* value, size_t value_size);
WEIR_HOST_IMPORT(proxy_replace_header_map_value)
uint32_t proxy_replace_header_map_value(uint32_t type, const char* key, size_t key_size,
                                        const char* value, size_t value_size);
WEIR_HOST_IMPORT(proxy_remove_header_map_value)
uint32_t proxy_remove_header_map_value(uint32_t type, const char* key, size_t key_size);

// Stream control.
WEIR_HOST_IMPORT(proxy_continue_stream)
uint32_t proxy_continue_stream(uint32_t stream_type);
WEIR_HOST_IMPORT(proxy_close_stream)
uint32_t proxy_close_stream(uint32_t stream_type);
WEIR_HOST_IMPORT(proxy_send_local_response)
uint32_t proxy_send_local_response(uint32_t status_code, const char* details, size_t details_size,
                                   const char* body, size_t body_size, const char* headers,
                                   size_t headers_size, int32_t grpc_status);
WEIR_HOST_IMPORT(proxy_get_status)
uint32_t proxy_get_status(uint32_t* code, char** message, size_t* message_size);

// Properties.
WEIR_HOST_IMPORT(proxy_get_property)
uint32_t proxy_get_property(const char* path, size_t path_size, char** value, size_t* value_size);
WEIR_HOST_IMPORT(proxy_set_property)
uint32_t proxy_set_property(const char* path, size_t path_size, const char* value,
                            size_t value_size);

// Metrics.
WEIR_HOST_IMPORT(proxy_define_metric)
uint32_t proxy_define_metric(uint32_t type, const char* name, size_t name_size, uint32_t* id);
WEIR_HOST_IMPORT(proxy_increment_metric)
uint32_t proxy_increment_metric(uint32_t id, int64_t delta);
WEIR_HOST_IMPORT(proxy_record_metric)
uint32_t proxy_record_metric(uint32_t id, uint64_t value);
WEIR_HOST_IMPORT(proxy_get_metric)
uint32_t proxy_get_metric(uint32_t id, uint64_t* value);

// HTTP calls (answer: proxy_on_http_call_response on the root context).
WEIR_HOST_IMPORT(proxy_http_call)
uint32_t proxy_http_call(const char* upstream, size_t upstream_size, const char* headers,
                         size_t headers_size, const char* body, size_t body_size,
                         const char* trailers, size_t trailers_size, uint32_t timeout_ms,
                         uint32_t* token);

// Shared data and queues.
WEIR_HOST_IMPORT(proxy_get_shared_data)
uint32_t proxy_get_shared_data(const char* key, size_t key_size, char** value, size_t* value_size,
                               uint32_t* cas);
WEIR_HOST_IMPORT(proxy_set_shared_data)
uint32_t proxy_set_shared_data(const char* key, size_t key_size, const char* value,
                               size_t value_size, uint32_t cas);
WEIR_HOST_IMPORT(proxy_register_shared_queue)
uint32_t proxy_register_shared_queue(const char* name, size_t name_size, uint32_t* queue_id);
WEIR_HOST_IMPORT(proxy_resolve_shared_queue)
uint32_t proxy_resolve_shared_queue(const char* vm_id, size_t vm_id_size, const char* name,
                                    size_t name_size, uint32_t* queue_id);
WEIR_HOST_IMPORT(proxy_enqueue_shared_queue)
uint32_t proxy_enqueue_shared_queue(uint32_t queue_id, const char* data, size_t size);
WEIR_HOST_IMPORT(proxy_dequeue_shared_queue)
uint32_t proxy_dequeue_shared_queue(uint32_t queue_id, char** data, size_t* size);

}  // extern "C"
