;; fd_write imported with the wrong type.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32) (result i64))))
