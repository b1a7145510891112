package id003test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// persisted is what a unit keeps through a power cut: the bill in its path
// (the mechanics do not move without power), the bill it found in the
// stacker and has not reported yet, the cash box's content and condition.
type persisted struct {
	Stacked      map[string]int `json:"stacked"`            // value in tiyn → count, every bill ever stacked
	Cassette     map[string]int `json:"cassette,omitempty"` // value in tiyn → count, in the cassette now
	Returned     int            `json:"returned"`
	BillCode     byte           `json:"bill_code,omitempty"`
	BillStep     string         `json:"bill_step,omitempty"`
	Recover      byte           `json:"recover,omitempty"`
	CassetteOut  bool           `json:"cassette_out,omitempty"`
	CassetteFull bool           `json:"cassette_full,omitempty"`
	Jammed       bool           `json:"jammed,omitempty"`
}

func (p persisted) write(path string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// A synced temporary file renamed over the state, then the directory
	// synced: a power cut at any point leaves the old state or the new one.
	// Without the first sync the rename can reach the disk before the data
	// (an empty state file); without the second, the rename itself is lost.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readPersisted(path string) (*persisted, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read acceptor emulator state: %w", err)
	}
	p := &persisted{}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("acceptor emulator state %s is damaged (delete it to start with an empty cash box): %w", path, err)
	}
	return p, nil
}
