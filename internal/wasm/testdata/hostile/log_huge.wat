;; Logs one 8 MiB message (the bytes at 0) for a chunk starting with "!".
;; @memory
(memory (export "memory") 130)
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then (call $log (i32.const 4) (i32.const 0) (i32.const 8388608))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
