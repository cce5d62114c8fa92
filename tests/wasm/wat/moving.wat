;; Growth from Wasm code, from a callee and from the host, for the tests of
;; memories that move when they grow (a provider that reserves no more than
;; a memory needs).
(module
  (import "env" "grow" (func $host_grow (param i32) (result i32)))
  (memory (export "memory") 1)

  (func $grow (param i32) (result i32)
    (memory.grow (local.get 0)))

  ;; The last 4 bytes of a memory of `pages` pages.
  (func $last_word (param $pages i32) (result i32)
    (i32.sub (i32.mul (local.get $pages) (i32.const 65536)) (i32.const 4)))

  ;; Stores v at byte 8, grows by one page in the way given (0: memory.grow
  ;; here, 1: in a callee, 2: in the host), stores 99 in the new page's
  ;; last word, and returns what byte 8 and that word hold: v + 99.
  (func (export "grow_and_touch") (param $how i32) (param $v i32) (result i32)
    (local $old i32)
    (i32.store (i32.const 8) (local.get $v))
    (local.set $old
      (if (result i32) (i32.eqz (local.get $how))
        (then (memory.grow (i32.const 1)))
        (else
          (if (result i32) (i32.eq (local.get $how) (i32.const 1))
            (then (call $grow (i32.const 1)))
            (else (call $host_grow (i32.const 1)))))))
    (if (i32.eq (local.get $old) (i32.const -1)) (then (unreachable)))
    (i32.store (call $last_word (i32.add (local.get $old) (i32.const 1)))
               (i32.const 99))
    (i32.add (i32.load (i32.const 8))
             (i32.load (call $last_word (i32.add (local.get $old)
                                                 (i32.const 1))))))

  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "size") (result i32)
    (memory.size))
  (func (export "load8") (param i32) (result i32)
    (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32)
    (i32.store8 (local.get 0) (local.get 1)))
  (func (export "fill") (param i32 i32 i32)
    (memory.fill (local.get 0) (local.get 1) (local.get 2))))
