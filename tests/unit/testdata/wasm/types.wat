;; Imports and exports of assorted types, for the module-info reader.
(module
  (type $unused (func (param f32)))
  (import "env" "proxy_continue_request" (func (result i32)))
  (import "env" "proxy_continue_stream" (func))
  (import "env" "proxy_increment_metric" (func (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "env" "scale" (func $scale (param f64 f32) (result f64)))
  (memory (export "memory") 3)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "wide") (param i64 f64) (result i64) local.get 0)
  ;; Re-exporting an import: its type comes from the import section.
  (export "reexported_clock" (func $clock))
)
