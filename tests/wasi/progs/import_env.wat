;; An import that WASI cannot satisfy.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "host_log" (func (param i32))))
