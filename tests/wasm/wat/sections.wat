;; A small module with one of every section, for the truncation and
;; byte-flip sweeps of test_decode.
(module
  (type $t (func (param i32) (result i32)))
  (import "env" "f" (func $imp (type $t)))
  (table 2 funcref)
  (memory 1 2)
  (global $g (mut i64) (i64.const -5))
  (export "run" (func $run))
  (export "mem" (memory 0))
  (start $init)
  (elem (i32.const 0) func $run $imp)
  (func $init (global.set $g (i64.const 77)))
  (func $run (type $t)
    (local $x i32)
    (local.set $x (i32.load8_u offset=1 (local.get 0)))
    (if (i32.eqz (local.get $x)) (then (data.drop $d)))
    (block $b
      (loop $l
        (br_if $b (i32.gt_u (local.get $x) (i32.const 10)))
        (local.set $x (i32.add (local.get $x) (call $imp (local.get $x))))
        (br $l)))
    (i32.add (local.get $x) (i32.wrap_i64 (global.get $g))))
  (data $d (i32.const 8) "\01\02\03shoal"))
