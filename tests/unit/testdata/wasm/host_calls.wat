;; Calls into the host with each value type, and a host function that traps.
(module
  (import "env" "add_i32" (func $add_i32 (param i32 i32) (result i32)))
  (import "env" "add_i64" (func $add_i64 (param i64 i64) (result i64)))
  (import "env" "half_f64" (func $half_f64 (param f64) (result f64)))
  (import "env" "note" (func $note (param i32)))
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "call_add_i32") (param i32 i32) (result i32)
    local.get 0 local.get 1 call $add_i32)
  (func (export "call_add_i64") (param i64 i64) (result i64)
    local.get 0 local.get 1 call $add_i64)
  (func (export "call_half_f64") (param f64) (result f64) local.get 0 call $half_f64)
  ;; Calls note(i) for i in [0, n): the per-call cost of wasm -> host.
  (func (export "note_loop") (param $n i32) (local $i i32)
    block $done
      loop $next
        local.get $i local.get $n i32.ge_u br_if $done
        local.get $i call $note
        local.get $i i32.const 1 i32.add local.set $i
        br $next
      end
    end)
  ;; After a trapping host call, this must never run: it would note 99.
  (func (export "call_fail") (param i32) (result i32)
    local.get 0 call $fail
    i32.const 99 call $note)
  (func (export "noop"))
)
