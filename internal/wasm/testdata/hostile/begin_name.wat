;; Emits the name given to plugin_begin, then a newline, then its input.
;; @plugin_begin
(func (export "plugin_begin") (param $len i32) (result i32)
  (call $emit (i32.const 1024) (local.get $len))
  (i32.store8 (i32.const 900) (i32.const 10))
  (call $emit (i32.const 900) (i32.const 1))
  (i32.const 0))
