;; The fan-out/fan-in coordinator.
;;
;; - init: the workers, a msgpack array16 (0xdc, 2-byte count) of at most
;;   1000 actor ids, each a uint64 (0xcf and 8 bytes big-endian). Anything
;;   else is exit code 2.
;; - request of a count M (msgpack uint32: 0xce and 4 bytes): casts M
;;   messages to the workers in turn (message i is the uint32 i), then
;;   counts the casts that come back; the M-th answers the request with M.
;;   A send that fails is exit code 4 (the caller sees EXITED).
;; Its mailbox must hold M messages: the replies queue up while it sends.
(module
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "send" (func $send (param i64 i32 i32) (result i32)))
  (import "shoal" "reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $nworkers (mut i32) (i32.const 0))
  (global $target (mut i32) (i32.const 0))
  (global $got (mut i32) (i32.const 0))
  ;; 0: the current message; 64: an outgoing message; 4096: the init
  ;; message (up to 9003 bytes); 16384: the worker ids as i64s.

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

  (func $init (param $len i32) (result i32)
    (local $n i32) (local $i i32) (local $p i32)
    (if (i32.or (i32.lt_u (local.get $len) (i32.const 3))
                (i32.gt_u (local.get $len) (i32.const 9003)))
      (then (return (i32.const 2))))
    (drop (call $msg_read (i32.const 4096) (i32.const 9003)))
    (if (i32.ne (i32.load8_u (i32.const 4096)) (i32.const 0xdc))
      (then (return (i32.const 2))))
    (local.set $n
      (i32.or (i32.shl (i32.load8_u (i32.const 4097)) (i32.const 8))
              (i32.load8_u (i32.const 4098))))
    (if (i32.or (i32.eqz (local.get $n))
                (i32.ne (local.get $len)
                        (i32.add (i32.const 3) (i32.mul (local.get $n) (i32.const 9)))))
      (then (return (i32.const 2))))
    (local.set $p (i32.const 4099))
    (loop $each
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0xcf))
        (then (return (i32.const 2))))
      (i64.store
        (i32.add (i32.const 16384) (i32.shl (local.get $i) (i32.const 3)))
        (i64.or
          (i64.shl (i64.extend_i32_u (call $load_be32 (i32.add (local.get $p) (i32.const 1))))
                   (i64.const 32))
          (i64.extend_i32_u (call $load_be32 (i32.add (local.get $p) (i32.const 5))))))
      (local.set $p (i32.add (local.get $p) (i32.const 9)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (local.get $n))))
    (global.set $nworkers (local.get $n))
    (i32.const 0))

  (func $fan_out (param $len i32) (result i32)
    (local $i i32) (local $w i32)
    (if (i32.ne (local.get $len) (i32.const 5)) (then (return (i32.const 0))))
    (drop (call $msg_read (i32.const 0) (i32.const 5)))
    (if (i32.ne (i32.load8_u (i32.const 0)) (i32.const 0xce))
      (then (return (i32.const 0))))
    (global.set $target (call $load_be32 (i32.const 1)))
    (global.set $got (i32.const 0))
    (i32.store8 (i32.const 64) (i32.const 0xce))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (global.get $target)))
        (call $store_be32 (i32.const 65) (local.get $i))
        (if (call $send
              (i64.load (i32.add (i32.const 16384) (i32.shl (local.get $w) (i32.const 3))))
              (i32.const 64) (i32.const 5))
          (then (return (i32.const 4))))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        (if (i32.eq (local.get $w) (global.get $nworkers))
          (then (local.set $w (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i32.const 0))

  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (if (i32.eq (local.get $kind) (i32.const 5))
      (then (return (call $init (local.get $len)))))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (return (call $fan_out (local.get $len)))))
    (if (i32.eqz (local.get $kind))
      (then
        (global.set $got (i32.add (global.get $got) (i32.const 1)))
        (if (i32.eq (global.get $got) (global.get $target))
          (then
            (i32.store8 (i32.const 128) (i32.const 0xce))
            (call $store_be32 (i32.const 129) (global.get $got))
            (drop (call $reply (i32.const 128) (i32.const 5)))))))
    (i32.const 0)))
