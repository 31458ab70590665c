;; A start function that calls the host while the instance is being made, with a message
;; in memory for the host to read (as AssemblyScript plugins log from there).
(module
  (import "env" "note" (func $note (param i32)))
  (import "env" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "from start")
  (func (export "get_answer") (result i32) i32.const 42)
  (func $start
    i32.const 42 call $note
    i32.const 16 i32.const 10 call $log)
  (start $start)
)
