;; Emits a range past the end of its memory for a chunk starting with "!".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then (call $emit (i32.const 131000) (i32.const 100000))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
