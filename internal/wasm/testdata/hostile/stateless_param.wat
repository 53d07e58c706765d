;; stateless_param.wat: plugin_stateless takes a parameter.
;; @plugin_stateless
(func (export "plugin_stateless") (param i32) (result i32) (i32.const 1))
