;; stateless_two.wat: plugin_stateless returns neither 0 nor 1.
;; @plugin_stateless
(func (export "plugin_stateless") (result i32) (i32.const 2))
