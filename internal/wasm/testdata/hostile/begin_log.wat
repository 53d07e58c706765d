;; Logs "begin" in plugin_begin, for the order of begin calls in a chain.
;; @data
(data (i32.const 100) "begin")
;; @plugin_begin
(func (export "plugin_begin") (param $len i32) (result i32)
  (call $log (i32.const 0) (i32.const 100) (i32.const 5))
  (i32.const 0))
