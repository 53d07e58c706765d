;; Emits 64 KiB at a time, without end, for a chunk starting with "!".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (loop $more
      (call $emit (i32.const 65536) (i32.const 65536))
      (br $more))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
