;; Calls into host functions: one that answers at once, one that traps, one
;; that suspends until the embedder completes it, and a proc_exit.
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "fail" (func $fail))
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (import "env" "exit" (func $exit (param i32)))
  (import "env" "grow" (func $grow (param i32) (result i32)))
  (memory (export "memory") 1)

  (func (export "call_add") (param i32 i32) (result i32)
    (i32.mul (call $add (local.get 0) (local.get 1)) (i32.const 2)))

  (func (export "call_fail") (result i32)
    (call $fail)
    (i32.const 1))

  (func (export "call_wait") (param i32) (result i32)
    (i32.add (call $wait (local.get 0)) (i32.const 1000)))

  ;; Recurses n levels, waits at the bottom, then adds the level numbers on
  ;; the way back up: depth(n, v) = wait(v) + n + (n-1) + ... + 1.
  (func $depth (export "depth") (param $n i32) (param $v i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $wait (local.get $v)))
      (else
        (i32.add
          (call $depth (i32.sub (local.get $n) (i32.const 1)) (local.get $v))
          (local.get $n)))))

;; Waits at depth n, then recurses m levels deeper (which grows the value
  ;; stack, moving the frames saved before the wait) and combines the result
  ;; with values kept in every frame on the way: the result is
  ;; wait(v) * 1000 + m(m+1)/2 + n(n+1)/2.
  (func $sum_to (param $m i32) (result i32)
    (if (result i32) (i32.eqz (local.get $m))
      (then (i32.const 0))
      (else (i32.add (local.get $m)
                     (call $sum_to (i32.sub (local.get $m) (i32.const 1)))))))
  (func $wait_then_recurse (export "wait_then_recurse")
        (param $n i32) (param $m i32) (param $v i32) (result i32)
    (local $w i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then
        (local.set $w (i32.mul (call $wait (local.get $v)) (i32.const 1000)))
        (i32.add (local.get $w) (call $sum_to (local.get $m))))
      (else
        (i32.add
          (local.get $n)
          (call $wait_then_recurse (i32.sub (local.get $n) (i32.const 1))
                                   (local.get $m) (local.get $v))))))

  ;; Alternates busy loops (so slices run out of fuel) with n waits, and
  ;; returns the sum of what the waits returned plus a loop checksum.
  (func (export "wait_loop") (param $n i32) (result i32)
    (local $i i32) (local $k i32) (local $acc i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (i32.const 0))
        (loop $busy
          (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $busy (i32.lt_u (local.get $k) (i32.const 50))))
        (local.set $acc
          (i32.add (local.get $acc) (call $wait (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $acc))

  (func (export "call_exit") (param i32) (result i32)
    (call $exit (local.get 0))
    (unreachable))

;; The host grows the memory during the call (grow), or the embedder does
  ;; while the call is suspended (wait, which must return the old size in
  ;; pages); either way the new page is usable at once.
  (func (export "grow_then_store") (result i32)
    (local $at i32)
    (local.set $at
      (i32.add (i32.mul (call $grow (i32.const 1)) (i32.const 65536))
               (i32.const 8)))
    (i32.store (local.get $at) (i32.const 77))
    (i32.load (local.get $at)))
  (func (export "wait_then_store") (result i32)
    (local $at i32)
    (local.set $at
      (i32.add (i32.mul (call $wait (i32.const 0)) (i32.const 65536))
               (i32.const 8)))
    (i32.store (local.get $at) (i32.const 78))
    (i32.load (local.get $at)))

  ;; The host writes into the caller's memory; this reads it back.
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0))))
