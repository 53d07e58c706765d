;; Imports a function from a module the host does not provide.
;; @env
(import "env" "foo" (func $foo))
