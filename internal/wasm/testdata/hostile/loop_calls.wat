;; An endless loop that calls a function on every turn: the time limit must
;; stop it however the loop is built.
;; @spin
(func $spin (param $x i32) (result i32) (i32.add (local.get $x) (i32.const 1)))
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (local $i i32)
  (if (call $bad) (then (loop $forever
    (local.set $i (call $spin (local.get $i)))
    (br $forever))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
