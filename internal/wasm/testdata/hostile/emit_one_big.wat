;; Emits 8 MiB of its memory in one emit call for a chunk starting with "!".
;; @memory
(memory (export "memory") 130)
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (call $emit (i32.const 0) (i32.const 8388608))
    (return (i32.const 0))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
