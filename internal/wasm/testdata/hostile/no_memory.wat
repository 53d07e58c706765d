;; A module with no memory at all.
;; @memory
;; @bad
(func $bad (result i32) (i32.const 0))
