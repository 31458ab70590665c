;; A start function that never returns: only the call deadline stops it.
(module
  (memory (export "memory") 1)
  (func $start (local $i i32)
    loop $forever
      local.get $i i32.const 1 i32.add local.set $i
      br $forever
    end)
  (start $start)
)
