;; cat: the plugin ABI, version 1 (docs/ABI.md), on one page, in WebAssembly
;; text. It passes every file through unchanged and logs its name at debug
;; level. Build with Debian's wabt:  wat2wasm -o wat-cat.wasm cat.wat
;;
;; No WASI and no allocator: the host writes each call's data at $buf, the
;; start of page 1, and plugin_buffer grows the memory to make room.
(module
  (import "host" "emit" (func $emit (param $ptr i32) (param $len i32)))
  (import "host" "log" (func $log (param $level i32) (param $ptr i32) (param $len i32)))
  (import "host" "fail" (func $fail (param $ptr i32) (param $len i32)))

  ;; Page 0 holds the constants below; the buffer starts at page 1.
  (memory (export "memory") 2)
  (global $buf i32 (i32.const 65536))

  ;; The optional metadata document, NUL-terminated (docs/ABI.md, "Metadata").
  (data (i32.const 16) "{\"name\":\"cat\",\"version\":\"1.0.0\",\"description\":\"Passes every file through unchanged (WebAssembly text).\"}\00")
  (data (i32.const 1024) "cat takes no settings")

  (func (export "plugin_meta") (result i32) (i32.const 16))

  (func (export "plugin_abi_version") (result i32) (i32.const 1))

  ;; plugin_buffer(size) -> ptr: make sure [$buf, $buf+size) is memory.
  (func (export "plugin_buffer") (param $size i32) (result i32)
    (local $need i32)
    ;; pages needed beyond page 0, rounding up
    (local.set $need (i32.add (i32.const 1)
      (i32.shr_u (i32.add (local.get $size) (i32.const 65535)) (i32.const 16))))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (return (i32.const 0)))))) ;; null fails the host's call
    (global.get $buf))

  ;; plugin_configure(len): the settings, a JSON object; only {} is taken.
  (func (export "plugin_configure") (param $len i32) (result i32)
    (if (i32.and (i32.eq (local.get $len) (i32.const 2))
                 (i32.eq (i32.load16_u (global.get $buf)) (i32.const 0x7d7b))) ;; "{}"
      (then (return (i32.const 0))))
    (call $fail (i32.const 1024) (i32.const 21))
    (i32.const 1))

  ;; plugin_begin(len): the file's name; log it at debug level (-4).
  (func (export "plugin_begin") (param $len i32) (result i32)
    (call $log (i32.const -4) (global.get $buf) (local.get $len))
    (i32.const 0))

  ;; plugin_chunk(len): whole lines; emit them straight from the buffer.
  (func (export "plugin_chunk") (param $len i32) (result i32)
    (call $emit (global.get $buf) (local.get $len))
    (i32.const 0))

  (func (export "plugin_end") (result i32) (i32.const 0)))
