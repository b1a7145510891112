package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// Under systemd, kioskd's stderr is a stream into the journal (systemd sets
// JOURNAL_STREAM to its device and inode). Lines written there are plain
// text; sent over journald's native protocol instead, each key=value of a
// log line becomes a field of its own (RECEIPT=1234, TOPUP=…, SESSION=…),
// which `journalctl -u tolem RECEIPT=1234` matches directly. On a terminal
// or into a file, nothing changes.

// journalHandlerFor returns a journald handler when w is stderr and stderr
// is the journal; nil otherwise.
func journalHandlerFor(w io.Writer, level slog.Leveler) slog.Handler {
	if w != io.Writer(os.Stderr) {
		return nil
	}
	if ok, err := journal.StderrIsJournalStream(); err != nil || !ok || !journal.Enabled() {
		return nil
	}
	return &journalHandler{send: journal.Send, level: level, fallback: os.Stderr}
}

// journalHandler is a slog.Handler that sends each record to journald with
// its attributes as fields.
type journalHandler struct {
	send     func(msg string, p journal.Priority, fields map[string]string) error
	level    slog.Leveler
	fallback io.Writer // where a record goes when journald refuses it
	fields   map[string]string
	prefix   string // of the open groups, as FIELD_ prefixes
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(map[string]string, len(h.fields)+r.NumAttrs()+2)
	for k, v := range h.fields {
		fields[k] = v
	}
	fields["SYSLOG_IDENTIFIER"] = "kioskd"
	fields["LEVEL"] = r.Level.String()
	r.Attrs(func(a slog.Attr) bool {
		addField(fields, h.prefix, a)
		return true
	})
	if err := h.send(r.Message, priority(r.Level), fields); err != nil {
		// The journal socket went away: the line still reaches the stream.
		_, werr := fmt.Fprintf(h.fallback, "%s %s %s\n", r.Level, r.Message, flatFields(fields))
		return werr
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.fields = make(map[string]string, len(h.fields)+len(attrs))
	for k, v := range h.fields {
		c.fields[k] = v
	}
	for _, a := range attrs {
		addField(c.fields, h.prefix, a)
	}
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + fieldName(name) + "_"
	return &c
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// addField adds a, flattening groups into PREFIX_KEY names.
func addField(fields map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, g := range v.Group() {
			addField(fields, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	name := prefix + fieldName(a.Key)
	switch name {
	case "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LEVEL", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "MESSAGE_ID":
		// journald's own fields keep their meaning.
		name = "ATTR_" + name
	}
	switch v.Kind() {
	case slog.KindTime:
		fields[name] = v.Time().UTC().Format(time.RFC3339Nano)
	default:
		fields[name] = v.String()
	}
}

// fieldName makes a journald field name of a slog key: upper case letters,
// digits and underscores, not starting with an underscore or a digit.
func fieldName(key string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(key) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "F_" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func flatFields(fields map[string]string) string {
	var parts []string
	for k, v := range fields {
		if k != "SYSLOG_IDENTIFIER" && k != "LEVEL" {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
