// Package ext is where builds of Traefik other than the open-source one add
// fields to the dynamic configuration. Traefik embeds these types inline in
// dynamic.HTTPConfiguration and dynamic.Router; the open-source build adds
// nothing, so they are empty here and the configuration is upstream's.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
