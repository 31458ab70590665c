;; Ways for Wasm code to fail or never finish. (Converted with --debug-names: the
;; function names go into the name section, for backtraces.)
(module
  (memory (export "memory") 1)
  (func $unreachable (export "unreachable") unreachable)
  (func (export "out_of_bounds") (result i32) i32.const -16 i32.load)
  (func (export "divide") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $recurse)
  (func $spin (export "spin") (local $i i32)
    loop $forever
      local.get $i i32.const 1 i32.add local.set $i
      br $forever
    end)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
)
