;; 256 MiB to start with, up to 1 GiB: untouched pages must not be resident.
(module
  (memory (export "memory") 4096 16384)
  ;; Writes one byte into every 4 KiB page of [start, start + len).
  (func (export "touch") (param $start i32) (param $len i32)
    (local $p i32) (local $end i32)
    (local.set $p (local.get $start))
    (local.set $end (i32.add (local.get $start) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (i32.store8 (local.get $p) (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 4096)))
        (br $next))))
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0))))
