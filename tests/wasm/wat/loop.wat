;; A loop that never ends, and a counter that it bumps, for the fuel and
;; resumption tests.
(module
  (global $ticks (mut i64) (i64.const 0))
  (func (export "spin")
    (loop $forever
      (global.set $ticks (i64.add (global.get $ticks) (i64.const 1)))
      (br $forever)))
  (func (export "spin_bare")
    (loop br 0))
  (func (export "ticks") (result i64)
    (global.get $ticks)))
