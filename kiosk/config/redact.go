package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"
)

// redactedText replaces a secret in what Redacted shows.
const redactedText = "***"

// Redacted returns a deep copy of c with the bank secret and every PIN hash
// replaced by "***", for showing the config to a technician. A secret that is
// not set stays empty, so that the copy still tells which one is used.
func (c *Config) Redacted() *Config {
	r := c.clone()
	if r.Bank.Secret != "" {
		r.Bank.Secret = redactedText
	}
	if r.Console != nil {
		for i := range r.Console.Technicians {
			if r.Console.Technicians[i].PinHash != "" {
				r.Console.Technicians[i].PinHash = redactedText
			}
		}
	}
	return r
}

// MarshalRedacted is Redacted as YAML in the file's layout: what the
// console's `config` command prints.
func (c *Config) MarshalRedacted() ([]byte, error) {
	b, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return b, nil
}

// MarshalRedactedJSON is Redacted as JSON with the file's keys and durations
// as strings ("1m30s"), for `config --json`.
func (c *Config) MarshalRedactedJSON() ([]byte, error) {
	y, err := c.MarshalRedacted()
	if err != nil {
		return nil, err
	}
	// Going through YAML keeps one spelling of every key and duration
	// instead of a second set of json tags that could drift from it.
	var tree map[string]any
	if err := yaml.Unmarshal(y, &tree); err != nil {
		return nil, fmt.Errorf("config: marshal json: %w", err)
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("config: marshal json: %w", err)
	}
	return b, nil
}

// clone copies c deeply, so that a Redacted copy shares no slice or map
// with the running config.
func (c *Config) clone() *Config {
	r := *c
	r.Acceptor.Currencies = maps.Clone(c.Acceptor.Currencies)
	r.Limits.PhonePrefixes = slices.Clone(c.Limits.PhonePrefixes)
	r.Update.Keys = slices.Clone(c.Update.Keys)
	r.Update.RestartCommand = slices.Clone(c.Update.RestartCommand)
	if c.Console != nil {
		con := *c.Console
		con.Technicians = slices.Clone(c.Console.Technicians)
		r.Console = &con
	}
	return &r
}
