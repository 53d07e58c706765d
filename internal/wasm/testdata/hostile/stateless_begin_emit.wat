;; stateless_begin_emit.wat: declared stateless, yet emits from plugin_begin.
;; @plugin_stateless
(func (export "plugin_stateless") (result i32) (i32.const 1))
;; @plugin_begin
(func (export "plugin_begin") (param $len i32) (result i32)
  (call $emit (i32.const 0) (i32.const 2))
  (i32.const 0))
