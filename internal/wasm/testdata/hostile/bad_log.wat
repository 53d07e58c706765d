;; Logs and fails with ranges outside memory for chunks starting with "!L"
;; and "!F".
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (if (i32.eq (i32.load8_u (i32.const 1025)) (i32.const 76))
      (then (call $log (i32.const 0) (i32.const -16) (i32.const 64))))
    (call $fail (i32.const -16) (i32.const 64))
    (return (i32.const 1))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
