;; Exports a function under a name an engine might give the start function.
(module
  (import "env" "note" (func $note (param i32)))
  (func $start i32.const 1 call $note)
  (func (export "weir.start") i32.const 2 call $note)
  (start $start)
)
