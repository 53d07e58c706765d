;; Imports a host function that does not exist.
;; @spawn
(import "host" "spawn" (func $spawn (param i32 i32)))
