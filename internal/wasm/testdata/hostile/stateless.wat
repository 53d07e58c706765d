;; stateless.wat: the pass-through, declared stateless.
;; @plugin_stateless
(func (export "plugin_stateless") (result i32) (i32.const 1))
