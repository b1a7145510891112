//go:build unix

package config

// unixModes: the file mode's group and other bits mean what they say.
const unixModes = true
