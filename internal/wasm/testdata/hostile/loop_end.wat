;; An endless loop in plugin_end, after a chunk starting with "!".
;; @plugin_end
(func (export "plugin_end") (result i32)
  (if (global.get $armed) (then (loop $forever (br $forever))))
  (i32.const 0))
