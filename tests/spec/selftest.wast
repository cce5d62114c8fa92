;; Self-test of spec-runner: a script with deliberately wrong expectations.
;; Every command marked FAIL must be reported as a failure, every command
;; marked pass must pass, and the text module must be skipped; selftest.sh
;; compares the runner's summary with the next line.
;; expect: 15 passed, 12 failed, 1 skipped

(module $M
  (global (export "g") i32 (i32.const 42))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "pair") (result i32 i64) (i32.const 1) (i64.const -1))
  (func (export "nan") (result f32) (f32.const nan:0x400001))
  (func (export "neg0") (result f64) (f64.const -0))
  (func (export "id") (param externref) (result externref) (local.get 0))
  (func (export "trap") (unreachable))
  (func $rec (export "rec") (call $rec))
)                                                                   ;; pass

(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))  ;; pass
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))  ;; FAIL
(assert_return (invoke "pair") (i32.const 1) (i64.const -1))              ;; pass
(assert_return (invoke "pair") (i32.const 1) (i64.const 1))               ;; FAIL
(assert_return (invoke "nan") (f32.const nan:arithmetic))                 ;; pass
(assert_return (invoke "nan") (f32.const nan:canonical))                  ;; FAIL
(assert_return (invoke "neg0") (f64.const 0))                             ;; FAIL
(assert_return (invoke "id" (ref.extern 1)) (ref.extern 1))               ;; pass
(assert_return (invoke "id" (ref.extern 1)) (ref.extern 2))               ;; FAIL
(assert_return (invoke "id" (ref.null extern)) (ref.null extern))         ;; pass
(assert_return (get "g") (i32.const 42))                                  ;; pass

(assert_trap (invoke "trap") "unreachable")                               ;; pass
(assert_trap (invoke "add" (i32.const 1) (i32.const 2)) "unreachable")    ;; FAIL
(assert_exhaustion (invoke "rec") "call stack exhausted")                 ;; pass
(assert_exhaustion (invoke "trap") "call stack exhausted")                ;; FAIL

(assert_invalid (module (func (result i32))) "type mismatch")             ;; pass
(assert_invalid (module (func)) "type mismatch")                          ;; FAIL
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version") ;; pass
(assert_malformed (module quote "(func") "unexpected end")                ;; skipped

(assert_unlinkable
  (module (import "spectest" "unknown" (func))) "unknown import")         ;; pass
(assert_unlinkable
  (module (import "spectest" "print_i32" (func))) "incompatible import type") ;; pass
(assert_unlinkable
  (module (import "spectest" "print" (func))) "unknown import")           ;; FAIL
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")    ;; pass
(assert_trap (module (func $s) (start $s)) "unreachable")                ;; FAIL

(register "M" $M)
(module (import "M" "add" (func (param i32 i32) (result i32))))           ;; pass
(module (import "M" "unknown" (func)))                                    ;; FAIL
(invoke $M "trap")                                                        ;; FAIL
