// Package auth provides what Traefik's basicAuth and digestAuth middlewares
// call, and fails closed: no password and no digest is ever accepted, every
// request through those middlewares gets 401. The ground's ingress path does
// not use them (the preview's nginx does basic auth), so a build of Traefik
// that cannot do them safely is better than one that accepts anything; a test
// that configures them sees 401 and finds this comment.
package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// SecretProvider returns the stored secret of a user in a realm, "" if none.
type SecretProvider func(user, realm string) string

// BasicAuth answers unauthenticated requests with a Basic challenge.
type BasicAuth struct {
	Realm   string
	Secrets SecretProvider
}

// RequireAuth sends the 401 Basic challenge.
func (a *BasicAuth) RequireAuth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.Realm))
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

// CheckSecret would compare a password with an htpasswd hash; the stand-in
// has no hash implementations and accepts nothing.
func CheckSecret(_, _ string) bool { return false }

// DigestAuth answers unauthenticated requests with a Digest challenge.
type DigestAuth struct {
	Realm   string
	Secrets SecretProvider
}

// NewDigestAuthenticator returns a DigestAuth for the realm.
func NewDigestAuthenticator(realm string, secrets SecretProvider) *DigestAuth {
	return &DigestAuth{Realm: realm, Secrets: secrets}
}

// CheckAuth returns the authenticated user name, "" when the request is not
// authenticated (always, here), and no further information.
func (a *DigestAuth) CheckAuth(_ *http.Request) (string, *string) { return "", nil }

// RequireAuth sends the 401 Digest challenge.
func (a *DigestAuth) RequireAuth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Digest realm=%q, algorithm=MD5, qop=\"auth\"", a.Realm))
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

// RequireAuthStale is RequireAuth: no nonce is ever issued, so none goes stale.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) { a.RequireAuth(w, r) }

// DigestAuthParams parses the key=value pairs of a Digest Authorization
// header (Traefik logs the user name from it); nil for anything else.
func DigestAuthParams(authorization string) map[string]string {
	scheme, rest, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		key, value, found := strings.Cut(strings.TrimSpace(part), "=")
		if found {
			params[key] = strings.Trim(value, `"`)
		}
	}
	return params
}
