;; A fan-out worker: a cast from an actor goes back to that actor unchanged.
;; Casts from the embedder, other kinds and messages over 64 bytes are
;; ignored. A send that fails is exit code 3.
(module
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "msg_sender" (func $msg_sender (result i64)))
  (import "shoal" "send" (func $send (param i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (local $from i64)
    (if (i32.or (i32.ne (local.get $kind) (i32.const 0))
                (i32.gt_u (local.get $len) (i32.const 64)))
      (then (return (i32.const 0))))
    (local.set $from (call $msg_sender))
    (if (i64.eqz (local.get $from))
      (then (return (i32.const 0))))
    (drop (call $msg_read (i32.const 0) (i32.const 64)))
    (if (call $send (local.get $from) (i32.const 0) (local.get $len))
      (then (return (i32.const 3))))
    (i32.const 0)))
