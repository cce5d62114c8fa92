;; Values crossing the embedding interface: every value type as parameter
;; and result, several results, and br_table's default.
(module
  (func (export "swap") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  (func (export "minus_one") (result i32 i64 f32)
    (i32.const -1) (i64.const -1) (f32.const -0.5))
  (func (export "add64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)))
  (func (export "fdiv") (param f64 f64) (result f64)
    (f64.div (local.get 0) (local.get 1)))
  (func (export "pick") (param i32) (result i32)
    (block $d
      (block $two
        (block $one
          (block $zero
            (br_table $zero $one $two $d (local.get 0)))
          (return (i32.const 100)))
        (return (i32.const 101)))
      (return (i32.const 102)))
    (i32.const 199)))
