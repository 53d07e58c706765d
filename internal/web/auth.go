package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// contentSecurityPolicy allows only the server's own script and style:
// even a name that escaped escaping could not run code.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// guard wraps every route: security headers, the rebinding check, then
// the token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		if s.loopback && !loopbackHost(r.Host) {
			// A page on another site whose name resolves to 127.0.0.1
			// (DNS rebinding) would otherwise be same-origin with us.
			s.fail(w, r, errorf(kindForbidden, "this dashboard answers only to localhost names, not %q", r.Host))
			return
		}
		// Assets hold no data, and the login page needs its style.
		if s.opts.Token == "" || strings.HasPrefix(r.URL.Path, "/assets/") {
			next.ServeHTTP(w, r)
			return
		}
		// Visiting /?token=... once sets a cookie, and the token leaves
		// the address bar and history.
		if r.URL.Path == "/" && r.Method == http.MethodGet && r.URL.Query().Has("token") {
			if !s.tokenOK(r.URL.Query().Get("token")) {
				s.fail(w, r, errorf(kindUnauthorized, "wrong token"))
				return
			}
			http.SetCookie(w, &http.Cookie{
				Name:     s.cookie,
				Value:    s.session,
				Path:     "/",
				HttpOnly: true,
				Secure:   r.TLS != nil,
				SameSite: http.SameSiteLaxMode, // Lax: a link from elsewhere still opens the dashboard; POSTs need more (CSRF).
			})
			http.Redirect(w, r, withoutToken(r.URL), http.StatusSeeOther)
			return
		}
		if !s.authorized(r) {
			s.fail(w, r, errorf(kindUnauthorized, "a token is required: send Authorization: Bearer TOKEN, or open /?token=TOKEN once"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the token: in an Authorization
// header, the cookie, or (for GET, as EventSource cannot set headers) the
// token query parameter.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	if s.bearer(r) {
		return true
	}
	if c, err := r.Cookie(s.cookie); err == nil && equal(c.Value, s.session) {
		return true
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if q := r.URL.Query(); q.Has("token") && s.tokenOK(q.Get("token")) {
			return true
		}
	}
	return false
}

// bearer reports whether r has the token in its Authorization header. A
// browser never adds that header by itself, so such requests need no
// CSRF token.
func (s *Server) bearer(r *http.Request) bool {
	if s.opts.Token == "" {
		return false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && s.tokenOK(strings.TrimSpace(tok))
}

func (s *Server) tokenOK(tok string) bool { return equal(tok, s.opts.Token) }

// equal compares in constant time, lengths included: both sides are
// hashed first.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// sessionValue is the cookie's value: derived from the token, so the
// token itself (which may be reused for curl and scripts) is not in the
// browser's cookie jar.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("filehost dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// checkOrigin refuses a mutating request that a browser sent from another
// site (Sec-Fetch-Site, or Origin against Host).
func (s *Server) checkOrigin(r *http.Request) error {
	if err := s.origin.Check(r); err != nil {
		return errorf(kindForbidden, "cross-origin request refused")
	}
	return nil
}

// csrfExempt reports whether r needs no CSRF form field: its header
// carries the token, or it authenticated with a bearer token.
func (s *Server) csrfExempt(r *http.Request) bool {
	return s.bearer(r) || s.csrfOK(r.Header.Get("X-CSRF-Token"))
}

func (s *Server) csrfOK(v string) bool { return v != "" && equal(v, s.csrf) }

var errCSRF = errorf(kindForbidden, "missing or stale CSRF token: reload the page")

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return isLoopback(host)
}

// withoutToken returns u without its token parameter, for links.
func withoutToken(u *url.URL) string {
	c := *u
	q := c.Query()
	q.Del("token")
	c.RawQuery = q.Encode()
	return c.RequestURI()
}
