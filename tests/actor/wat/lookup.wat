;; Answers every request with what the provider "svc" answers to it: it looks
;; "svc" up, calls it with the request's bytes and replies with the reply.
;; A negative status on the way (lookup, call) is the reply instead, as a
;; msgpack negative fixint (E_NOLINK -10 is 0xf6).
(module
  (import "shoal" "lookup" (func $lookup (param i32 i32) (result i64)))
  (import "shoal" "call" (func $call (param i64 i32 i32 i64) (result i32)))
  (import "shoal" "msg_read" (func $msg_read (param i32 i32) (result i32)))
  (import "shoal" "reply" (func $reply (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "svc")
  (func $fail (param $status i32) (result i32)
    (i32.store8 (i32.const 0) (local.get $status))
    (drop (call $reply (i32.const 0) (i32.const 1)))
    (i32.const 0))
  (func (export "shoal_handle") (param $len i32) (param $kind i32) (result i32)
    (local $id i64) (local $n i32)
    (if (i32.ne (local.get $kind) (i32.const 1)) (then (return (i32.const 0))))
    (drop (call $msg_read (i32.const 0) (i32.const 512)))
    (local.set $id (call $lookup (i32.const 1024) (i32.const 3)))
    (if (i64.lt_s (local.get $id) (i64.const 0))
      (then (return (call $fail (i32.wrap_i64 (local.get $id))))))
    (local.set $n (call $call (local.get $id) (i32.const 0) (local.get $len)
                              (i64.const 5000)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (return (call $fail (local.get $n)))))
    (drop (call $msg_read (i32.const 0) (i32.const 512)))
    (drop (call $reply (i32.const 0) (local.get $n)))
    (i32.const 0)))
