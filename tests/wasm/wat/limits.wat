;; 32 pages of memory and a 100-element table: more than small stores allow.
(module
  (memory (export "memory") 32)
  (table (export "table") 100 funcref))
