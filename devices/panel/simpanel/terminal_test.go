package simpanel

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// syncBuffer collects what the panel draws.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until the deadline; for output drawn by another goroutine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type termRig struct {
	t       *testing.T
	w       *os.File
	out     *syncBuffer
	screens chan kiosk.Screen
	keys    chan kiosk.Key
	feeder  *feeder
	cancel  context.CancelFunc
	done    chan error
}

func startTerminal(t *testing.T) *termRig {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	rig := &termRig{
		t: t, w: w, out: &syncBuffer{}, cancel: cancel,
		screens: make(chan kiosk.Screen), keys: make(chan kiosk.Key, 16),
		feeder: &feeder{}, done: make(chan error, 1),
	}
	go func() {
		rig.done <- RunTerminal(ctx, r, rig.out, rig.screens, rig.keys, rig.feeder, TermOptions{})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rig.done:
		case <-time.After(wait):
			t.Error("RunTerminal did not return after cancel")
		}
	})
	return rig
}

func (r *termRig) typeIn(s string) {
	r.t.Helper()
	if _, err := r.w.WriteString(s); err != nil {
		r.t.Fatal(err)
	}
}

func (r *termRig) key() kiosk.Key {
	r.t.Helper()
	select {
	case k := <-r.keys:
		return k
	case <-time.After(wait):
		r.t.Fatal("no key from the terminal panel")
	}
	return ""
}

func (r *termRig) returned() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		r.t.Fatal("RunTerminal did not return")
	}
	return nil
}

func TestTerminalDrawsScreensAndSendsKeys(t *testing.T) {
	rig := startTerminal(t)
	eventually(t, "the waiting frame", func() bool { return strings.Contains(rig.out.String(), "waiting for the kiosk") })

	rig.screens <- kiosk.Screen{State: kiosk.StateEnterPhone, Lang: kiosk.LangKK, Lines: [4]string{"Телефон нөмірі:", "+7 (7__) ___-__-__"}}
	eventually(t, "the screen", func() bool {
		o := rig.out.String()
		return strings.Contains(o, "│ Телефон нөмірі:      │") && strings.Contains(o, "enter_phone")
	})

	rig.typeIn("70\x7f\r\x1b[A\x1b")
	var got []kiosk.Key
	for range 5 {
		got = append(got, rig.key())
	}
	if fmt.Sprint(got) != "[7 0 BACK OK CANCEL]" {
		t.Errorf("keys = %v", got)
	}
	eventually(t, "the last key", func() bool { return strings.Contains(rig.out.String(), "key CANCEL") })
	if o := rig.out.String(); !strings.HasPrefix(o, "\x1b[H") || strings.Contains(o, "\x1b[?1049h") {
		t.Error("a frame drawn to a pipe should start at home, without the alternate screen")
	}
}

func TestTerminalBillKeysFeedAcceptor(t *testing.T) {
	rig := startTerminal(t)
	rig.typeIn("e")
	eventually(t, "the bill event", func() bool { return strings.Contains(rig.out.String(), "bill 1 000 ₸ inserted") })
	rig.typeIn("f")
	eventually(t, "the fake bill event", func() bool { return strings.Contains(rig.out.String(), "fake bill inserted") })
	bills, fakes := rig.feeder.got()
	if len(bills) != 1 || bills[0] != kiosk.Tenge(1000) || fakes != 1 {
		t.Errorf("feeder got %v and %d fakes", bills, fakes)
	}

	rig.feeder.mu.Lock()
	rig.feeder.err = fmt.Errorf("bill acceptor has a fault and does not take bills (jammed)")
	rig.feeder.mu.Unlock()
	rig.typeIn("u")
	eventually(t, "the refusal", func() bool {
		return strings.Contains(rig.out.String(), "bill 20 000 ₸ not taken: bill acceptor has a fault")
	})
}

func TestTerminalQuits(t *testing.T) {
	for _, q := range []string{"Q", "\x03"} {
		rig := startTerminal(t)
		rig.typeIn("1" + q + "2")
		if err := rig.returned(); err != nil {
			t.Errorf("quit with %q returned %v, want nil", q, err)
		}
		if k := rig.key(); k != "1" {
			t.Errorf("key before quit = %q", k)
		}
		select {
		case k := <-rig.keys:
			t.Errorf("key %q sent after quit", k)
		default:
		}
	}
}

func TestTerminalKeepsDrawingAfterInputEnds(t *testing.T) {
	rig := startTerminal(t)
	rig.w.Close()
	rig.screens <- kiosk.Screen{State: kiosk.StateDone, Lines: [4]string{"Зачислено 5 000 ₸"}}
	eventually(t, "the screen after input ended", func() bool { return strings.Contains(rig.out.String(), "Зачислено 5 000 ₸") })
	select {
	case err := <-rig.done:
		t.Fatalf("RunTerminal returned %v when its input ended", err)
	default:
	}
	close(rig.screens)
	if err := rig.returned(); err != nil {
		t.Errorf("after screens closed: %v", err)
	}
}

func TestScreenChanKeepsLatest(t *testing.T) {
	c := NewScreenChan()
	for i := range 5 {
		c.Show(kiosk.Screen{Lines: [4]string{fmt.Sprint(i)}})
	}
	if s := <-c.C(); s.Lines[0] != "4" {
		t.Errorf("got screen %q, want the latest", s.Lines[0])
	}
	select {
	case s := <-c.C():
		t.Errorf("stale screen %q left", s.Lines[0])
	default:
	}
}

// A note typed in the terminal waits at the slot while the acceptor does not
// take it; the frame keeps drawing meanwhile, and a key typed after the note
// reaches the kiosk only once the note is in, as it was typed.
func TestTerminalNoteAtTheSlotKeepsOrder(t *testing.T) {
	rig := startTerminal(t)
	rig.feeder.mu.Lock() // the slot does not take the note yet
	rig.typeIn("e\r")
	eventually(t, "the note at the slot", func() bool { return strings.Contains(rig.out.String(), "bill 1 000 ₸ at the slot…") })
	rig.screens <- kiosk.Screen{State: kiosk.StateInsertCash, Lines: [4]string{"Вставьте купюры"}}
	eventually(t, "a screen drawn while the note waits", func() bool { return strings.Contains(rig.out.String(), "Вставьте купюры") })
	select {
	case k := <-rig.keys:
		t.Fatalf("key %q reached the kiosk before the note typed before it", k)
	case <-time.After(50 * time.Millisecond):
	}
	rig.feeder.mu.Unlock()
	if k := rig.key(); k != kiosk.KeyOK {
		t.Errorf("key after the note = %q, want OK", k)
	}
	if bills, _ := rig.feeder.got(); len(bills) != 1 || bills[0] != kiosk.Tenge(1000) {
		t.Errorf("feeder got %v", bills)
	}
}
