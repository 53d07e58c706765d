;; An endless loop in plugin_configure.
;; @plugin_configure
(func (export "plugin_configure") (param $len i32) (result i32)
  (loop $forever (br $forever))
  (i32.const 0))
