;; base.wat: a well-behaved plugin, a pass-through, that every hostile case
;; in this folder starts from (see hostile_test.go). The module's fields are
;; tagged with ";; @KEY" lines. A case file is a list of tagged fields: one
;; with a tag below replaces that field, a new tag adds a field, and a tag
;; with nothing under it deletes the field.
;;
;; A case misbehaves only when asked, so that the file after a bad one can
;; show the plugin (and the host) still work: a chunk whose first byte is
;; "!" (the buffer is at 1024) or a file name starting with "!".
;; @imports
(import "host" "emit" (func $emit (param i32 i32)))
(import "host" "log" (func $log (param i32 i32 i32)))
(import "host" "fail" (func $fail (param i32 i32)))
;; @memory
(memory (export "memory") 2)
;; @armed
(global $armed (mut i32) (i32.const 0))
;; @bad
(func $bad (result i32)
  (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 33)))
;; @plugin_abi_version
(func (export "plugin_abi_version") (result i32) (i32.const 1))
;; @plugin_buffer
(func (export "plugin_buffer") (param $size i32) (result i32) (i32.const 1024))
;; @plugin_configure
(func (export "plugin_configure") (param $len i32) (result i32) (i32.const 0))
;; @plugin_begin
(func (export "plugin_begin") (param $len i32) (result i32)
  (global.set $armed (i32.const 0))
  (i32.const 0))
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then (global.set $armed (i32.const 1))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
;; @plugin_end
(func (export "plugin_end") (result i32) (i32.const 0))
