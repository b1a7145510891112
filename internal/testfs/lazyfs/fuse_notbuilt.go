//go:build !(linux && (amd64 || arm64))

package lazyfs

// go-fuse v2.12.1 does not build for 32-bit ARM (its splice code assigns an
// int to an int64), nor off Linux here: there the tests that mount skip.
const fuseBuilt = false
