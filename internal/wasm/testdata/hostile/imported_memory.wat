;; A module that imports its memory instead of defining it.
;; @memory
(import "env" "memory" (memory 2))
