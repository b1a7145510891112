// Package config reads the kiosk's YAML configuration (SPEC §4).
//
// A config is refused at start rather than half-understood: an unknown key, a
// value of the wrong type or a value out of range each name the key's path
// and, when it came from the file, the line, and every problem is reported at
// once so that a technician at a kiosk fixes the file in one pass.
//
// Every key but terminal_id, data_dir, bank and acceptor has a default, so a
// minimal file starts a kiosk. Default returns those defaults; Parse overlays a
// file on them and validates the result; Validate can be called on a Config
// built in code (kioskd --sim does that).
//
// Secrets (bank.secret, console pin hashes) never leave through Redacted or
// MarshalRedacted, which is what the console's `config` command shows.
package config
