;; Imports a function taking a v128: no host function can be bound to it.
(module
  (import "env" "take_vector" (func (param v128)))
  (memory (export "memory") 1)
)
