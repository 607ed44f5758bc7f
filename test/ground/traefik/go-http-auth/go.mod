// Stand-in for github.com/containous/go-http-auth, Traefik's fork of
// github.com/abbot/go-http-auth, which the Go module proxy reachable here
// refuses ("not available"). Only Traefik's basicAuth and digestAuth
// middlewares use it; the ground never configures them.
module github.com/abbot/go-http-auth

go 1.24
