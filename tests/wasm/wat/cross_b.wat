;; The second instance: its own memory, and calls into cross_a's functions
;; interleaved with accesses to its own memory.
(module
  (import "a" "store" (func $a_store (param i32 i32)))
  (import "a" "load" (func $a_load (param i32) (result i32)))
  (import "a" "grow" (func $a_grow (param i32) (result i32)))
  (memory 1)
  (func (export "mix") (result i32)
    (i32.store (i32.const 16) (i32.const 5))    ;; mine
    (call $a_store (i32.const 16) (i32.const 7)) ;; theirs
    ;; 5 * 100 + 7: each instance still sees its own memory.
    (i32.add (i32.mul (i32.load (i32.const 16)) (i32.const 100))
             (call $a_load (i32.const 16))))
  ;; a's memory grows to 3 pages; mine stays at 1, so this traps.
  (func (export "grow_theirs_then_touch_mine") (result i32)
    (drop (call $a_grow (i32.const 2)))
    (call $a_store (i32.const 131072) (i32.const 9))
    (i32.load (i32.const 131072))))
