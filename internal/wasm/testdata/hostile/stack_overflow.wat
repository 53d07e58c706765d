;; Recurses without end for a chunk starting with "!".
;; @deep
(func $deep (param $n i32) (result i32)
  (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then (drop (call $deep (i32.const 0)))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
