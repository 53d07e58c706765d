;; stateless_partial.wat: declared stateless, yet drops each chunk's last
;; byte, its newline, so its output for a chunk ends in a partial line.
;; @plugin_stateless
(func (export "plugin_stateless") (result i32) (i32.const 1))
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (call $emit (i32.const 1024) (i32.sub (local.get $len) (i32.const 1)))
  (i32.const 0))
