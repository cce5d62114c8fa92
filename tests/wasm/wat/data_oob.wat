;; The data segment ends one byte past the memory: instantiation traps.
(module
  (memory 1)
  (data (i32.const 65535) "ab"))
