;; Recurses as deep as each request asks (a msgpack uint16: 0xcd and 2 bytes
;; big-endian), so that its stack and frames outgrow their first size, and
;; answers nil. A recursion that comes back with the wrong depth is exit
;; code 5; one deeper than the call depth limit traps.
(module
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $down (param $n i32) (result i32)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else
        (i32.add (i32.const 1)
                 (call $down (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (local $n i32)
    (if (i32.ne (local.get $len) (i32.const 3)) (then (return (i32.const 0))))
    (drop (call $msg_read (i32.const 0) (i32.const 3)))
    (local.set $n
      (i32.or (i32.shl (i32.load8_u (i32.const 1)) (i32.const 8))
              (i32.load8_u (i32.const 2))))
    (if (i32.ne (call $down (local.get $n)) (local.get $n))
      (then (return (i32.const 5))))
    (i32.store8 (i32.const 0) (i32.const 0xc0))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (drop (call $reply (i32.const 0) (i32.const 1)))))
    (i32.const 0)))
