;; A memory of 1 to 256 pages (16 MiB) with accessors, for running a real
;; instance on an arena slot.
(module
  (memory (export "memory") 1 256)
  (data (i32.const 16) "shoal")
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "size") (result i32)
    (memory.size))
  (func (export "load64") (param i32) (result i64)
    (i64.load (local.get 0)))
  (func (export "store64") (param i32 i64)
    (i64.store (local.get 0) (local.get 1)))
  ;; The sum of the bytes in [0, n), to see that a memory reads as zeros.
  (func (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s)
                               (i64.load8_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s)))
