//go:build !unix

package config

const unixModes = false
