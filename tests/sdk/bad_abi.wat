;; A module the check must refuse: shoal.send with an i32 actor id, an
;; import from "env", an extra export and no exported memory.
(module
  (import "shoal" "send" (func (param i32 i32 i32) (result i32)))
  (import "env" "f" (func))
  (memory 1)
  (func (export "shoal_handle") (param i32 i32) (result i32) (i32.const 0))
  (func (export "helper")))
