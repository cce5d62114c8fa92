;; idle.wat with one page of linear memory (no maximum, so the memory's
;; reservation is the runtime's per-actor limit).
(module
  (memory (export "memory") 1)
  (func (export "shoal_handle") (param i32 i32) (result i32)
    (i32.const 0)))
