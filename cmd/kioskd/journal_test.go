package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"

	"tolem/kiosk/config"
)

type sent struct {
	msg    string
	pri    journal.Priority
	fields map[string]string
}

// Each key of a log line is a journald field of its own, so that
// journalctl -u tolem RECEIPT=12 finds the top-up's lines.
func TestJournalFields(t *testing.T) {
	var got []sent
	h := &journalHandler{level: slog.LevelInfo, fallback: &bytes.Buffer{},
		send: func(msg string, p journal.Priority, f map[string]string) error {
			got = append(got, sent{msg, p, f})
			return nil
		}}
	log := slog.New(h).With("component", "outbox")
	log.Info("top-up credited", "receipt", 12, "topup", "0b5e2f7c", slog.Group("bank", "code", 201), "message", "x", "_secret", 1, "9lives", 2)
	log.Debug("not sent")
	log.WithGroup("ccnet").Error("jammed", "port", "/dev/ttyUSB0")

	if len(got) != 2 {
		t.Fatalf("%d records sent, want 2 (debug is below the level)", len(got))
	}
	want := map[string]string{"COMPONENT": "outbox", "RECEIPT": "12", "TOPUP": "0b5e2f7c", "BANK_CODE": "201",
		"ATTR_MESSAGE": "x", "SECRET": "1", "F_9LIVES": "2", "SYSLOG_IDENTIFIER": "kioskd", "LEVEL": "INFO"}
	for k, v := range want {
		if got[0].fields[k] != v {
			t.Errorf("field %s = %q, want %q (fields %v)", k, got[0].fields[k], v, got[0].fields)
		}
	}
	if got[0].msg != "top-up credited" || got[0].pri != journal.PriInfo {
		t.Errorf("first record %q priority %d", got[0].msg, got[0].pri)
	}
	if got[1].pri != journal.PriErr || got[1].fields["CCNET_PORT"] != "/dev/ttyUSB0" || got[1].fields["COMPONENT"] != "outbox" {
		t.Errorf("second record %+v", got[1])
	}

	// journald gone: the line still reaches stderr, which is the journal's
	// stream.
	var fb bytes.Buffer
	h2 := &journalHandler{level: slog.LevelInfo, fallback: &fb,
		send: func(string, journal.Priority, map[string]string) error { return errors.New("no socket") }}
	slog.New(h2).Warn("disk full", "op", "record escrow")
	if fb.String() != "WARN disk full OP=record escrow\n" {
		t.Errorf("fallback line %q", fb.String())
	}
}

// On a terminal, into a file or a pipe, the log stays text.
func TestJournalOnlyWhenStderrIsTheJournal(t *testing.T) {
	if h := journalHandlerFor(&bytes.Buffer{}, slog.LevelInfo); h != nil {
		t.Error("a buffer is not the journal")
	}
	t.Setenv("JOURNAL_STREAM", "")
	if h := journalHandlerFor(os.Stderr, slog.LevelInfo); h != nil {
		t.Error("journald chosen without JOURNAL_STREAM")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Skip(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	h := journalHandlerFor(os.Stderr, slog.LevelInfo)
	if journal.Enabled() != (h != nil) {
		t.Errorf("stderr is the journal stream; journald there: %v, handler: %v", journal.Enabled(), h != nil)
	}
	if _, ok := newLogger(&bytes.Buffer{}, config.Log{Level: "info", Format: "text"}).Handler().(*slog.TextHandler); !ok {
		t.Error("newLogger on a buffer is not the text handler")
	}
}
