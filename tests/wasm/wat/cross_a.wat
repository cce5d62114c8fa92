;; The first of two instances that call each other: it owns a memory and
;; exports functions working on it.
(module
  (memory (export "memory") 1)
  (func (export "store") (param i32 i32)
    (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0))))
