;; Logs "looping", then loops without end, for a chunk starting with "!":
;; the log line tells a test the loop has begun.
;; @data
(data (i32.const 100) "looping")
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (call $log (i32.const 0) (i32.const 100) (i32.const 7))
    (loop $forever (br $forever))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
