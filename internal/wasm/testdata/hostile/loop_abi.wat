;; An endless loop in plugin_abi_version.
;; @plugin_abi_version
(func (export "plugin_abi_version") (result i32)
  (loop $forever (br $forever))
  (i32.const 1))
