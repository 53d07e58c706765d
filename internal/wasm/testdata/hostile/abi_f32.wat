;; plugin_abi_version returns an f32.
;; @plugin_abi_version
(func (export "plugin_abi_version") (result f32) (f32.const 1))
