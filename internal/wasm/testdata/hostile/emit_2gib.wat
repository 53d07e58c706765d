;; Emits 2 GiB (32768 times 64 KiB) for a chunk starting with "!".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (local $i i32)
  (if (call $bad) (then
    (loop $more
      (call $emit (i32.const 65536) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 32768))))
    (return (i32.const 0))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
