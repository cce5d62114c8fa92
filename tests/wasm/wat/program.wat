;; A small real program mixing recursion, loops over memory, br_table
;; dispatch and indirect calls, for the slicing tests: whatever the fuel
;; slice, "main" must return the same value and use the same fuel.
(module
  (type $binop (func (param i32 i32) (result i32)))
  (memory 1)
  (table funcref (elem $add $sub $mul $xor))

  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; Writes i*i+7 at 4*i for i in [0, n).
  (func $fill (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.shl (local.get $i) (i32.const 2))
                   (i32.add (i32.mul (local.get $i) (local.get $i))
                            (i32.const 7)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func $sum (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (call $fill (local.get $n))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc
          (i64.add (local.get $acc)
                   (i64.extend_i32_u
                     (i32.load (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $xor (type $binop) (i32.xor (local.get 0) (local.get 1)))

  ;; A little state machine driven by br_table: for i in [0, n) it applies
  ;; operation i mod 5 (the fifth is no operation), then operation i mod 4 of
  ;; the table through call_indirect.
  (func $dispatch (export "dispatch") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (local.set $acc (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (block $b4
          (block $b3
            (block $b2
              (block $b1
                (block $b0
                  (br_table $b0 $b1 $b2 $b3 $b4
                            (i32.rem_u (local.get $i) (i32.const 5))))
                (local.set $acc (i32.add (local.get $acc) (local.get $i)))
                (br $b4))
              (local.set $acc (i32.mul (local.get $acc) (i32.const 3)))
              (br $b4))
            (local.set $acc (i32.xor (local.get $acc) (i32.const 0x5a5a)))
            (br $b4))
          (local.set $acc (i32.rotl (local.get $acc) (i32.const 7)))
          (br $b4))
        (local.set $acc
          (call_indirect (type $binop) (local.get $acc) (local.get $i)
                         (i32.and (local.get $i) (i32.const 3))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  (func (export "main") (result i64)
    (i64.add
      (i64.add
        (i64.extend_i32_u (call $fib (i32.const 20)))
        (i64.shl (call $sum (i32.const 1000)) (i64.const 8)))
      (i64.shl (i64.extend_i32_u (call $dispatch (i32.const 3000)))
               (i64.const 40)))))
