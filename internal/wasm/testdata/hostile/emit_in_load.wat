;; Emits during _initialize, plugin_configure and plugin_buffer; the ABI
;; says what becomes of each.
;; @data
(data (i32.const 100) "init|conf|buf|")
;; @initialize
(func (export "_initialize") (call $emit (i32.const 100) (i32.const 5)))
;; @plugin_configure
(func (export "plugin_configure") (param $len i32) (result i32)
  (call $emit (i32.const 105) (i32.const 5))
  (i32.const 0))
;; @plugin_buffer
(func (export "plugin_buffer") (param $size i32) (result i32)
  (call $emit (i32.const 110) (i32.const 4))
  (i32.const 1024))
