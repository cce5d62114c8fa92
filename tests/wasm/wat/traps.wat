;; One function per trap kind, plus an ordinary function to show the exec is
;; usable again after a trap.
(module
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (memory 1)
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $answer $answer)
  ;; Elements 2 and 3 stay null.

  (func $answer (type $v_i) (i32.const 42))
  (func (export "ok") (result i32) (i32.const 42))

  (func (export "unreachable") (unreachable))
  (func (export "div_zero") (param i32) (result i32)
    (i32.div_s (i32.const 7) (local.get 0)))
  (func (export "rem_zero") (param i64) (result i64)
    (i64.rem_u (i64.const 7) (local.get 0)))
  (func (export "int_overflow") (result i32)
    (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "trunc_overflow") (result i32)
    (i32.trunc_f64_s (f64.const 3e9)))
  (func (export "invalid_conversion") (result i32)
    (i32.trunc_f32_u (f32.div (f32.const 0) (f32.const 0))))
  (func (export "memory_oob") (param i32) (result i32)
    (i32.load (local.get 0)))
  (func (export "memory_oob_store") (param i32)
    (i64.store offset=8 (local.get 0) (i64.const 1)))
  (func (export "table_oob") (param i32) (result funcref)
    (table.get $t (local.get 0)))
  (func (export "undefined_element") (param i32) (result i32)
    (call_indirect (type $v_i) (local.get 0)))
  (func (export "uninitialized_element") (result i32)
    (call_indirect (type $v_i) (i32.const 2)))
  (func (export "indirect_mismatch") (result i32)
    (call_indirect (type $i_i) (i32.const 5) (i32.const 0)))

  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1)))
             (i32.const 1)))

  ;; A function with a big frame: recursion exhausts the value stack well
  ;; before the call depth limit.
  (func $big (export "big_frames") (param $n i32) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else (i64.add (call $big (i32.sub (local.get $n) (i32.const 1)))
                     (i64.const 1))))))
