package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// JournalName is the journal's file name in the root.
const JournalName = "update.json"

// State is where an update stands, as written in the journal.
type State string

// An update passes through draining, switching and switched and ends done;
// a failed one passes through rolling_back and ends rolled_back or
// rollback_failed; aborted ends one that stopped before its switch.
const (
	StateDraining       State = "draining"
	StateSwitching      State = "switching"
	StateSwitched       State = "switched"
	StateRollingBack    State = "rolling_back"
	StateDone           State = "done"
	StateRolledBack     State = "rolled_back"
	StateAborted        State = "aborted"
	StateRollbackFailed State = "rollback_failed"
)

// Journal is <root>/update.json: the last update, and how far it got.
type Journal struct {
	State State `json:"state"`
	// From is the version current pointed to before; empty on a first
	// install.
	From    string    `json:"from,omitempty"`
	To      string    `json:"to"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Reason says why an update was rolled back or aborted.
	Reason string `json:"reason,omitempty"`
}

// Unfinished reports whether the update stopped between its drain and its
// end: the process died, or the kiosk lost power.
func (j *Journal) Unfinished() bool {
	switch j.State {
	case StateDraining, StateSwitching, StateSwitched, StateRollingBack:
		return true
	}
	return false
}

// ReadJournal reads root's journal; nil, nil when there is none.
func ReadJournal(root string) (*Journal, error) {
	data, err := os.ReadFile(filepath.Join(root, JournalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the update journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		// Written atomically, so only a damaged card gets here.
		return nil, fmt.Errorf("update journal %s is damaged (%v); remove it once current points at a release you trust", filepath.Join(root, JournalName), err)
	}
	return &j, nil
}

func writeJournal(root string, j *Journal) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(root, JournalName), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the update journal: %w", err)
	}
	return nil
}
