// Package dns, as build-binaries.sh builds Traefik with it: this file replaces
// lego's generated providers/dns/zz_gen_dns_providers.go in the copy of
// github.com/go-acme/lego/v5 the Traefik build uses. The generated file
// imports lego's ~220 DNS-01 providers, and the Go module proxy reachable here
// refuses the SDKs of 14 of them. The ground has no ACME and no way out of the
// machine, so Traefik gets none: configuring a DNS challenge fails with the
// error below. HTTP-01 and TLS-ALPN-01 are lego's own code, unchanged.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName is what Traefik's ACME provider calls.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS challenge provider %q: the test ground's Traefik is built without DNS-01 providers", name)
}
