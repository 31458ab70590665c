;; Import and export names that are awkward in other languages' maps (JS property keys,
;; non-ASCII): names are bytes.
(module
  (import "__proto__" "f" (func $proto (param i32)))
  (import "env" "toString" (func $to_string (param i32)))
  (import "env" "hasOwnProperty" (func $has_own (param i32)))
  (import "ünïcødé" "😀" (func $unicode (param i32)))
  (import "env" "nul" (func $nul (param i32)))
  (func (export "__proto__")
    i32.const 1 call $proto
    i32.const 2 call $to_string
    i32.const 3 call $has_own
    i32.const 4 call $unicode
    i32.const 5 call $nul)
  (func (export "ëxport") i32.const 6 call $nul)
)
