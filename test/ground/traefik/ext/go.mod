// Stand-in for Traefik's dynamic-config extension module. Traefik keeps it in
// its repository (pkg/config/dynamic/ext) and points at it with a local
// replace, so it is in no module zip and the Go module proxy has no version of
// it. build-binaries.sh replaces it with this directory.
module github.com/traefik/traefik/dynamic/ext

go 1.24
