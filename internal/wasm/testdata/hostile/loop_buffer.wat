;; An endless loop in plugin_buffer when asked for more than 60000 bytes.
;; @memory
(memory (export "memory") 4)
;; @plugin_buffer
(func (export "plugin_buffer") (param $size i32) (result i32)
  (if (i32.gt_u (local.get $size) (i32.const 60000)) (then (loop $forever (br $forever))))
  (i32.const 1024))
