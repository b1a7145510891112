package ccnettest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// persisted is what a unit keeps through a power cut: the bill in its path
// (the mechanics do not move without power), the credit it still has to
// report, the cassette's content and condition.
type persisted struct {
	Stacked      map[string]int `json:"stacked"`            // value in tiyn → count, every bill ever stacked
	Cassette     map[string]int `json:"cassette,omitempty"` // value in tiyn → count, in the cassette now
	BillType     int            `json:"bill_type"`
	BillStep     string         `json:"bill_step,omitempty"`
	Recover      int            `json:"recover"`
	CassetteOut  bool           `json:"cassette_out,omitempty"`
	CassetteFull bool           `json:"cassette_full,omitempty"`
	Jammed       bool           `json:"jammed,omitempty"`
}

func (p persisted) write(path string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// Write then rename: a kill between the two leaves the old state, never a
	// torn file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readPersisted(path string) (*persisted, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read acceptor emulator state: %w", err)
	}
	p := &persisted{Recover: -1, BillType: -1}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("acceptor emulator state %s is damaged (delete it to start with an empty cassette): %w", path, err)
	}
	return p, nil
}
