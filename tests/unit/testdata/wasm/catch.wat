;; Tries to catch a trapping host call (exception handling proposal): it must not manage.
(module
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (func (export "catch_host_trap") (result i32)
    try (result i32)
      i32.const 3 call $fail
    catch_all
      i32.const -1
    end)
)
