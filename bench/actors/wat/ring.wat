;; A member of a ring; two of them play ping-pong.
;;
;; - init or cast of an actor id as a msgpack uint64 (0xcf and 8 bytes,
;;   big-endian): that actor is the next in the ring.
;; - cast of a token, a msgpack uint32 (0xce and 4 bytes) with count c:
;;   if c > 0, cast c - 1 to the next actor; if c = 0, exit normally (the
;;   embedder waits for that exit). A send that fails is exit code 3.
;; Everything else is ignored.
(module
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "send" (func $send (param i64 i32 i32) (result i32)))
  (import "shoal" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $next (mut i64) (i64.const 0))

  (func $load_be32 (param $p i32) (result i32)
    (i32.or
      (i32.or (i32.shl (i32.load8_u (local.get $p)) (i32.const 24))
              (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 16)))
      (i32.or (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 8))
              (i32.load8_u offset=3 (local.get $p)))))

  (func $store_be32 (param $p i32) (param $v i32)
    (i32.store8 (local.get $p) (i32.shr_u (local.get $v) (i32.const 24)))
    (i32.store8 offset=1 (local.get $p) (i32.shr_u (local.get $v) (i32.const 16)))
    (i32.store8 offset=2 (local.get $p) (i32.shr_u (local.get $v) (i32.const 8)))
    (i32.store8 offset=3 (local.get $p) (local.get $v)))

  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (local $c i32)
    (if (i32.and (i32.ne (local.get $kind) (i32.const 0))
                 (i32.ne (local.get $kind) (i32.const 5)))
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const 16))
      (then (return (i32.const 0))))
    (drop (call $msg_read (i32.const 0) (i32.const 16)))
    (if (i32.and (i32.eq (local.get $len) (i32.const 9))
                 (i32.eq (i32.load8_u (i32.const 0)) (i32.const 0xcf)))
      (then
        (global.set $next
          (i64.or (i64.shl (i64.extend_i32_u (call $load_be32 (i32.const 1)))
                           (i64.const 32))
                  (i64.extend_i32_u (call $load_be32 (i32.const 5)))))
        (return (i32.const 0))))
    (if (i32.and (i32.eq (local.get $len) (i32.const 5))
                 (i32.eq (i32.load8_u (i32.const 0)) (i32.const 0xce)))
      (then
        (local.set $c (call $load_be32 (i32.const 1)))
        (if (i32.eqz (local.get $c))
          (then (call $exit (i32.const 0))))
        (call $store_be32 (i32.const 1) (i32.sub (local.get $c) (i32.const 1)))
        (if (call $send (global.get $next) (i32.const 0) (i32.const 5))
          (then (return (i32.const 3))))))
    (i32.const 0)))
