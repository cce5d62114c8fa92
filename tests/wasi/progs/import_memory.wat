;; WASI provides functions only.
(module
  (import "wasi_snapshot_preview1" "memory" (memory 1)))
