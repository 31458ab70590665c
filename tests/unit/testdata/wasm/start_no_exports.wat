;; A start function in a module without an export section (and no memory).
(module
  (import "env" "note" (func $note (param i32)))
  (start $note_seven)
  (func $note_seven i32.const 7 call $note)
)
