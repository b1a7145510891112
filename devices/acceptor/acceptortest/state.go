package acceptortest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"tolem/kiosk"
)

// Box is the part of a unit's state file every protocol keeps alike: the
// bills it ever stacked and those in the cassette now, by value in tiyn, and
// the cassette's condition. An emulator embeds it in its own state.
type Box struct {
	Stacked      map[string]int `json:"stacked"`            // value in tiyn → count, every bill ever stacked
	Cassette     map[string]int `json:"cassette,omitempty"` // value in tiyn → count, in the cassette now
	CassetteOut  bool           `json:"cassette_out,omitempty"`
	CassetteFull bool           `json:"cassette_full,omitempty"`
	Jammed       bool           `json:"jammed,omitempty"`
}

// NewBox is the box of a unit with these counts and this condition.
func NewBox(stacked, cassette map[kiosk.Money]int, cassetteOut, cassetteFull, jammed bool) Box {
	b := Box{Stacked: map[string]int{}, Cassette: map[string]int{},
		CassetteOut: cassetteOut, CassetteFull: cassetteFull, Jammed: jammed}
	for v, n := range stacked {
		b.Stacked[fmt.Sprint(int64(v))] = n
	}
	for v, n := range cassette {
		b.Cassette[fmt.Sprint(int64(v))] = n
	}
	return b
}

// Counts adds the box's counts to stacked and cassette.
func (b Box) Counts(stacked, cassette map[kiosk.Money]int) {
	add := func(to map[kiosk.Money]int, from map[string]int) {
		for v, n := range from {
			var m int64
			if _, err := fmt.Sscan(v, &m); err == nil {
				to[kiosk.Money(m)] = n
			}
		}
	}
	add(stacked, b.Stacked)
	if b.Cassette == nil {
		// A state file from before the cassette was counted apart: it held
		// every bill stacked.
		add(cassette, b.Stacked)
		return
	}
	add(cassette, b.Cassette)
}

// WriteState writes v as the state file at path.
func WriteState(path string, v any) error {
	b, err := json.Marshal(v)
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

// ReadState reads the state file at path into v; it reports false, with v
// untouched, when there is none. box names what a technician empties on the
// unit (cassette, cash box), for the message that says what to do with a
// damaged file.
func ReadState(path, box string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read acceptor emulator state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("acceptor emulator state %s is damaged (delete it to start with an empty %s): %w", path, box, err)
	}
	return true, nil
}
