package console

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

// sessionCookie holds, after a login, a value derived from the token (never
// the token itself). It is HttpOnly and SameSite=Strict, and every request
// that changes state is also checked by http.CrossOriginProtection, so a
// cross-site form cannot ride on it.
const sessionCookie = "metastore_session"

// secure wraps the console's routes: security headers on every answer, the
// Host check, cross-origin protection on every state-changing request, and
// the token when one is configured.
func (c *Console) secure(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.logf("refused cross-origin %s %s (Origin %q, Sec-Fetch-Site %q)", r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"))
		c.fail(w, r, http.StatusForbidden, "cross-origin request refused: state-changing requests must come from the console's own pages")
	}))
	inner := cop.Handler(c.authenticate(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if !c.hostAllowed(r.Host) {
			c.logf("refused Host %q for %s %s", r.Host, r.Method, r.URL.Path)
			c.fail(w, r, http.StatusForbidden, "Host "+r.Host+" is not allowed: open the console by IP address or localhost, or start serve with --allow-host")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether the Host header names this console rather
// than a DNS name an attacker points at it (DNS rebinding): an IP address,
// localhost (or a name under .localhost, which resolves to loopback), or
// one of the configured host names.
func (c *Console) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	switch {
	case host == "":
		return false
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	case net.ParseIP(host) != nil:
		return true
	}
	for _, h := range c.cfg.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// authenticate requires the token, when one is configured, from everything
// but the login page and the static files.
func (c *Console) authenticate(next http.Handler) http.Handler {
	if c.cfg.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/static/") || c.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		if isPage(r) {
			to := "/login?next=" + url.QueryEscape(r.URL.RequestURI())
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", to)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="metastore"`)
		c.fail(w, r, http.StatusUnauthorized, "authentication required: send the token (serve --token-file) as a bearer token")
	})
}

// isPage reports whether r asks for a page (rather than the API).
func isPage(r *http.Request) bool {
	return r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/kylin/")
}

// authorized reports whether r carries the token: "Authorization: Bearer
// TOKEN", HTTP basic authentication with the token as the password (what
// Kyligence's scripts send), or the session cookie of a login.
func (c *Console) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && c.tokenEqual(strings.TrimSpace(tok)) {
		return true
	}
	if _, pw, ok := r.BasicAuth(); ok && c.tokenEqual(pw) {
		return true
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		want := c.session()
		return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(want)) == 1
	}
	return false
}

func (c *Console) tokenEqual(s string) bool {
	// Compare digests, so the comparison's time says nothing of the length.
	a, b := sha256.Sum256([]byte(s)), sha256.Sum256([]byte(c.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// session is the session cookie's value: an HMAC of a fixed label under the
// token, so the cookie reveals nothing of the token and dies with it.
func (c *Console) session() string {
	m := hmac.New(sha256.New, []byte(c.cfg.Token))
	m.Write([]byte("metastore console session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Token == "" {
		http.Redirect(w, r, "/system", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", "Sign in", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginData struct {
	Next  string
	Error string
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Token == "" {
		http.Redirect(w, r, "/system", http.StatusSeeOther)
		return
	}
	next := safeNext(r.FormValue("next"))
	if !c.tokenEqual(strings.TrimSpace(r.FormValue("token"))) {
		c.logf("failed login from %s", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "login", "Sign in", loginData{Next: next, Error: "That is not the console's token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: c.session(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site: a path, never "//host" or
// a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/system"
	}
	return next
}
