;; Emits 4 MiB (64 times 64 KiB of NUL bytes, no newline) in one call for a
;; chunk starting with "!": more than the host holds before passing output
;; on, so the next plugin runs while this call does.
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (local $i i32)
  (if (call $bad) (then
    (loop $more
      (call $emit (i32.const 65536) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 64))))
    (return (i32.const 0))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
