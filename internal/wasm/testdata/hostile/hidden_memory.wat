;; A module whose memory is not exported: the host uses it all the same.
;; @memory
(memory 2)
