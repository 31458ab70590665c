;; Fails validation (converted with wat2wasm --no-check): returns an i64 as an i32.
(module
  (func (export "bad") (result i32) i64.const 1)
)
