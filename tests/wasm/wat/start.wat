;; A start function, and a data segment that does not fit its memory.
(module
  (memory 1)
  (global $ran (mut i32) (i32.const 0))
  (func $init (global.set $ran (i32.const 1)))
  (start $init)
  (func (export "ran") (result i32) (global.get $ran)))
