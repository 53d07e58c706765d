;; Logs its chunk 100000 times for a chunk starting with "!".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (local $i i32)
  (if (call $bad) (then
    (loop $more
      (call $log (i32.const 0) (i32.const 1024) (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 100000))))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
