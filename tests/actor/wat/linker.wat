;; Links to the actor named in its init message (a msgpack uint64, 0xcf and
;; 8 bytes big-endian) and answers every request with nil.
(module
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "link" (func $link (param i64) (result i32)))
  (import "shoal" "reply" (func $reply (param i32 i32) (result i32)))
  (import "shoal" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "shoal_init") (param $len i32) (result i32)
    (local $peer i64) (local $i i32)
    (if (i32.ne (local.get $len) (i32.const 9)) (then (return (i32.const 2))))
    (drop (call $msg_read (i32.const 0) (i32.const 16)))
    (local.set $i (i32.const 1))
    (loop $l
      (local.set $peer
        (i64.or (i64.shl (local.get $peer) (i64.const 8))
                (i64.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 9))))
    ;; a failed link is exit code 4
    (if (i32.ne (call $link (local.get $peer)) (i32.const 0))
      (then (return (i32.const 4))))
    (i32.const 0))
  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0xc0))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (drop (call $reply (i32.const 0) (i32.const 1)))))
    (i32.const 0)))
