;; A memory of zero pages that cannot grow: bulk operations of length zero
;; at address zero are in bounds and must do nothing.
(module
  (memory (export "memory") 0 0)
  (data $d "")
  (func (export "fill") (memory.fill (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "copy") (memory.copy (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "init") (memory.init $d (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "fill_one") (memory.fill (i32.const 0) (i32.const 0) (i32.const 1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "size") (result i32) (memory.size)))
