;; A module without plugin_end.
;; @plugin_end
