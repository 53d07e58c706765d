;; An endless loop in plugin_chunk.
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then (loop $forever (br $forever))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
