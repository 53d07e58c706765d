;; Grows its table by 65536 elements at a time until table.grow fails, then
;; returns the table's size as its status.
;; @table
(table $t 1 funcref)
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (loop $more
      (br_if $more (i32.ne (table.grow $t (ref.null func) (i32.const 65536)) (i32.const -1))))
    (return (table.size $t))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
