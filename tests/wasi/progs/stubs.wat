;; Preview1 functions that Shoal does not provide, imported with their real
;; (wide, i64-carrying) types: each must link and answer ENOSYS (52).
;; proc_exit ends the run with a code.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread"
    (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv"
    (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise"
    (func $proc_raise (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "path_open") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 4)
      (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64)))
  (func (export "fd_pread") (result i32)
    (call $fd_pread (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0)
      (i32.const 0)))
  (func (export "sock_recv") (result i32)
    (call $sock_recv (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0)))
  (func (export "proc_raise") (result i32)
    (call $proc_raise (i32.const 6)))
  (func (export "exit42")
    (call $proc_exit (i32.const 42))
    unreachable))
