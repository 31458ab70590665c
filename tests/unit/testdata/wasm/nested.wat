;; A host function that calls back into the instance, while Wasm code is on the stack.
(module
  (import "env" "call_back" (func $call_back))
  (func (export "outer")
    call $call_back
    loop $forever br $forever end)
  (func (export "spin")
    loop $forever br $forever end)
)
