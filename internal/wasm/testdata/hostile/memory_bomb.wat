;; Grows its memory by 100 pages (6.25 MiB) for a chunk starting with "!",
;; and traps if that fails, as a C or Go allocator aborts.
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable))
    ;; Touch the new memory, as a real allocation would.
    (i32.store (i32.const 6000000) (i32.const 1))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
