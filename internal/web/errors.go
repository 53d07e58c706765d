package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// kind is what went wrong, as far as a client is concerned.
type kind int

const (
	kindInternal kind = iota
	kindInvalid
	kindNotFound
	kindUnauthorized
	kindForbidden
	kindTooLarge
	kindUnavailable
	kindTimeout
)

// kinds is the one place error kinds become HTTP statuses and codes.
var kinds = map[kind]struct {
	status int
	code   string
}{
	kindInternal:     {http.StatusInternalServerError, "internal"},
	kindInvalid:      {http.StatusBadRequest, "invalid"},
	kindNotFound:     {http.StatusNotFound, "not_found"},
	kindUnauthorized: {http.StatusUnauthorized, "unauthorized"},
	kindForbidden:    {http.StatusForbidden, "forbidden"},
	kindTooLarge:     {http.StatusRequestEntityTooLarge, "too_large"},
	kindUnavailable:  {http.StatusServiceUnavailable, "unavailable"},
	kindTimeout:      {http.StatusRequestTimeout, "timeout"},
}

// httpError is an error with a kind and a message fit for the client.
type httpError struct {
	Kind    kind
	Message string
	Err     error // the cause, for logs; may be nil
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *httpError) Unwrap() error { return e.Err }

func errorf(k kind, format string, args ...any) *httpError {
	return &httpError{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// classify returns err's kind and the message a client may see.
// Internal errors show no detail: they may name paths.
func classify(err error) (kind, string) {
	var e *httpError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		if e.Kind == kindInternal {
			return kindInternal, "internal error"
		}
		return e.Kind, e.Message
	case errors.As(err, &tooBig):
		return kindTooLarge, fmt.Sprintf("request larger than %d bytes", tooBig.Limit)
	case errors.Is(err, fs.ErrNotExist):
		// The Backend's own message ("file 7: not a failed file").
		return kindNotFound, err.Error()
	}
	return kindInternal, "internal error"
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// fail writes err as the response: JSON for the API, a small page for a
// browser that navigated here (a form posted without JavaScript). Only
// internal errors are logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	k, msg := classify(err)
	kd := kinds[k]
	if k == kindInternal {
		s.logger.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if k == kindUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="filehost"`)
	}
	if wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(kd.status)
		data := errorPage{Status: kd.status, Title: http.StatusText(kd.status), Message: msg, Login: k == kindUnauthorized}
		if err := pages.ExecuteTemplate(w, "error.html", data); err != nil {
			s.logger.Debug("error page", "error", err)
		}
		return
	}
	writeJSON(w, kd.status, errorBody{Error: msg, Code: kd.code})
}

type errorPage struct {
	Status  int
	Title   string
	Message string
	Login   bool
}

// wantsHTML reports whether the client is a browser navigating, not a
// script: fetch and curl do not ask for text/html first.
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.HasPrefix(accept, "text/html")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // The client may be gone; nothing to do about it.
}
