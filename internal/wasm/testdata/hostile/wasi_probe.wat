;; Probes the WASI sandbox for a chunk starting with "!": it emits the
;; results below as little-endian 32-bit words, in this order.
;;   0 path_open errno (on fd 3, the first preopen if there were one)
;;   1 fd_prestat_get(3) errno
;;   2 sock_accept(3) errno
;;   3 environ_sizes_get: count
;;   4 args_sizes_get: count
;;   5,6 clock_time_get(realtime): low and high words of nanoseconds
;;   7,8 random_get: 8 bytes
;;   9 sock_accept(0) errno (stdin, which is no socket)
;; @imports
(import "host" "emit" (func $emit (param i32 i32)))
(import "host" "log" (func $log (param i32 i32 i32)))
(import "host" "fail" (func $fail (param i32 i32)))
(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
(import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
(import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
;; @data
(data (i32.const 100) "etc/passwd")
;; @plugin_chunk
(func (export "plugin_chunk") (param $len i32) (result i32)
  (if (call $bad) (then
    (i32.store (i32.const 2048) (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 10)
      (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 500)))
    (i32.store (i32.const 2052) (call $fd_prestat_get (i32.const 3) (i32.const 500)))
    (i32.store (i32.const 2056) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 500)))
    (drop (call $environ_sizes_get (i32.const 2060) (i32.const 500)))
    (drop (call $args_sizes_get (i32.const 2064) (i32.const 500)))
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 2068)))
    (drop (call $random_get (i32.const 2076) (i32.const 8)))
    (i32.store (i32.const 2084) (call $sock_accept (i32.const 0) (i32.const 0) (i32.const 500)))
    (call $emit (i32.const 2048) (i32.const 40))
    (return (i32.const 0))))
  (call $emit (i32.const 1024) (local.get $len))
  (i32.const 0))
