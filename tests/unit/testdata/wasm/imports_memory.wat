;; Imports its memory instead of exporting it: not a Proxy-Wasm module.
(module
  (import "env" "memory" (memory 1))
  (func (export "noop"))
)
