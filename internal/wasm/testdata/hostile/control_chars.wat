;; Writes terminal escape sequences, NUL and newlines to stdout, to the log
;; and as its failure message for a chunk starting with "!"; traps instead
;; of failing when the chunk's second byte is "T".
;; @imports
(import "host" "emit" (func $emit (param i32 i32)))
(import "host" "log" (func $log (param i32 i32 i32)))
(import "host" "fail" (func $fail (param i32 i32)))
(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
;; @data
;; 39 bytes at 100: ESC ] 0 ; title BEL, ESC [2J, NUL, a newline and a fake log line.
(data (i32.const 100) "\1b]0;pwned\07\1b[2J\00\nlevel=ERROR msg=forged\0d")
;; An iovec at 200: 39 bytes at 100.
(data (i32.const 200) "\64\00\00\00\27\00\00\00")
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (drop (call $fd_write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 300)))
    (call $log (i32.const 4) (i32.const 100) (i32.const 39))
    (if (i32.eq (i32.load8_u (i32.const 1025)) (i32.const 84)) (then unreachable))
    (call $fail (i32.const 100) (i32.const 39))
    (return (i32.const 1))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
