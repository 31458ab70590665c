;; Functions with v128 values, which the host cannot pass: an export to leave out (and in
;; simd_import.wat an import to refuse). Neither may bring the process down.
(module
  (memory (export "memory") 1)
  (func (export "splat") (param i32) (result v128) local.get 0 i32x4.splat)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
)
