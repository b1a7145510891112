//go:build linux && (amd64 || arm64)

package lazyfs

const fuseBuilt = true
