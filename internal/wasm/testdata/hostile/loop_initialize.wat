;; An endless loop in _initialize.
;; @initialize
(func (export "_initialize") (loop $forever (br $forever)))
