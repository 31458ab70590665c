;; Linear memory seen from both sides, including growth in the middle of calls.
(module
  (import "env" "inspect" (func $inspect (param i32) (result i32)))
  (import "env" "fill_new_block" (func $fill_new_block (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  ;; A bump allocator growing memory as needed, like a plugin's malloc.
  (func $alloc (export "alloc") (param $size i32) (result i32) (local $block i32)
    global.get $heap local.set $block
    local.get $block local.get $size i32.add global.set $heap
    block $fits
      loop $grow
        global.get $heap memory.size i32.const 16 i32.shl i32.le_u br_if $fits
        i32.const 1 memory.grow i32.const -1 i32.eq if unreachable end
        br $grow
      end
    end
    local.get $block)

  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "pages") (result i32) memory.size)
  (func (export "load_u8") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "store_u8") (param i32 i32) local.get 0 local.get 1 i32.store8)
  (func (export "sum_bytes") (param $ptr i32) (param $len i32) (result i32) (local $sum i32)
    block $done
      loop $next
        local.get $len i32.eqz br_if $done
        local.get $sum local.get $ptr i32.load8_u i32.add local.set $sum
        local.get $ptr i32.const 1 i32.add local.set $ptr
        local.get $len i32.const 1 i32.sub local.set $len
        br $next
      end
    end
    local.get $sum)

  ;; Grows by $pages, marks the last byte of the new memory, then lets the host look.
  (func (export "grow_then_inspect") (param $pages i32) (result i32)
    local.get $pages memory.grow drop
    memory.size i32.const 16 i32.shl i32.const 1 i32.sub i32.const 7 i32.store8
    local.get $pages call $inspect)

  ;; The host allocates $size bytes (through alloc, growing memory) and fills them with 1s;
  ;; returns their sum as read here.
  (func (export "host_fills") (param $size i32) (result i32)
    local.get $size call $fill_new_block local.get $size call $sum_bytes_internal)
  (func $sum_bytes_internal (param $ptr i32) (param $len i32) (result i32) (local $sum i32)
    block $done
      loop $next
        local.get $len i32.eqz br_if $done
        local.get $sum local.get $ptr i32.load8_u i32.add local.set $sum
        local.get $ptr i32.const 1 i32.add local.set $ptr
        local.get $len i32.const 1 i32.sub local.set $len
        br $next
      end
    end
    local.get $sum)
)
