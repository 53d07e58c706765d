;; An endless loop in plugin_begin, for a file whose name starts with "!".
;; @plugin_begin
(func (export "plugin_begin") (param $len i32) (result i32)
  (if (call $bad) (then (loop $forever (br $forever))))
  (i32.const 0))
