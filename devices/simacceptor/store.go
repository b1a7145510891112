package simacceptor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"tolem/kiosk"
)

const stateVersion = 1

// state is the device's memory that survives a kill: what is in its bill
// path, and its journal of stacked bills.
type state struct {
	Version int `json:"version"`
	// Escrow is the value of the bill waiting in the head (0: none).
	Escrow kiosk.Money `json:"escrow,omitempty"`
	// StackedUnreported is the value of a bill pushed into the cassette whose
	// stacked report has not gone out yet (0: none).
	StackedUnreported kiosk.Money `json:"stacked_unreported,omitempty"`
	// Stacked counts every bill ever stacked, per value in tiyn.
	Stacked map[kiosk.Money]int `json:"stacked"`
}

func (s state) clone() state {
	c := s
	c.Stacked = maps.Clone(s.Stacked)
	if c.Stacked == nil {
		c.Stacked = map[kiosk.Money]int{}
	}
	return c
}

// store keeps state in a JSON file, replaced atomically so that a kill at any
// instant leaves either the old or the new state, never a torn one.
type store struct {
	path string // empty: memory only
}

func (s *store) load() (state, error) {
	st := state{Version: stateVersion, Stacked: map[kiosk.Money]int{}}
	if s.path == "" {
		return st, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read state file: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("state file %s is damaged (%v); move it aside to start the simulated acceptor empty", s.path, err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("state file %s has version %d, this build reads %d; move it aside to start empty", s.path, st.Version, stateVersion)
	}
	if st.Stacked == nil {
		st.Stacked = map[kiosk.Money]int{}
	}
	return st, nil
}

func (s *store) save(st state) error {
	if s.path == "" {
		return nil
	}
	st.Version = stateVersion
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	// The rename is durable only once the directory entry is.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save state: sync %s: %w", dir, err)
	}
	return nil
}
