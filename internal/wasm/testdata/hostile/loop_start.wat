;; An endless loop in the module's start function.
;; @start
(func $start (loop $forever (br $forever)))
(start $start)
