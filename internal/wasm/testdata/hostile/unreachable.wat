;; Traps (unreachable) for a chunk starting with "!".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then unreachable))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
