;; Imports host.emit with the wrong type.
;; @imports
(import "host" "emit" (func $emit (param i32 i32 i32)))
(import "host" "log" (func $log (param i32 i32 i32)))
(import "host" "fail" (func $fail (param i32 i32)))
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (call $emit (i32.const 1024) (local.get $len) (i32.const 0))
  (i32.const 0))
