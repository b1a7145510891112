package simpanel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"tolem/kiosk"
)

// TermOptions configure RunTerminal.
type TermOptions struct {
	// Title heads the frame (e.g. the terminal id); a default when empty.
	Title string
	// NoColor draws without ANSI colors (kioskd sets it from NO_COLOR).
	// Colors are off anyway when in is not a terminal.
	NoColor bool
	// Log receives refused bills and terminal errors; discarded when nil.
	Log *slog.Logger
	// Notes are lines shown under the key legend (see RenderInfo.Notes).
	Notes []string
	// Receipts are the sim printer's receipts, the last shown beside the
	// screen; nil without a sim printer.
	Receipts <-chan kiosk.ReceiptDoc
	// TogglePaper takes the sim printer's paper out or puts it back (key
	// p) and says which; nil without a sim printer.
	TogglePaper func() string
}

// Escape sequences of the full-screen frame.
const (
	altScreenOn  = "\x1b[?1049h\x1b[?25l" // alternate screen, cursor hidden
	altScreenOff = "\x1b[?25h\x1b[?1049l"
	home         = "\x1b[H"
	clearEOL     = "\x1b[K"
	clearBelow   = "\x1b[J"
)

// RunTerminal is the front panel in a terminal: it draws every screen that
// arrives on screens, sends the keys typed on in to keys, and feeds the bill
// keys' banknotes to feeder (nil: the bill keys only say there is no
// acceptor). When in is a terminal it is put in raw mode and restored on
// return.
//
// It returns nil when the user quits (Q or Ctrl-C; the daemon then shuts
// down), when ctx is done, or when screens is closed; an error only when the
// terminal cannot be set up or written to. The end of in (a daemon started
// without a terminal) is not a quit: the frame keeps being drawn.
func RunTerminal(ctx context.Context, in *os.File, out io.Writer, screens <-chan kiosk.Screen, keys chan<- kiosk.Key, feeder BillFeeder, opts TermOptions) error {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	isTerm := isTerminal(in)
	if isTerm {
		restore, err := makeRaw(in)
		if err != nil {
			return fmt.Errorf("terminal panel: raw mode: %w", err)
		}
		defer restore()
		if _, err := io.WriteString(out, altScreenOn); err != nil {
			return fmt.Errorf("terminal panel: %w", err)
		}
		defer io.WriteString(out, altScreenOff)
	}

	chunks, stopReader := readChunks(in)
	defer stopReader()

	var resized <-chan os.Signal
	if isTerm {
		ch, stop := notifyResize()
		defer stop()
		resized = ch
	}

	var screen kiosk.Screen
	info := RenderInfo{Title: opts.Title, Waiting: true, Color: isTerm && !opts.NoColor, Notes: opts.Notes,
		Printer: opts.TogglePaper != nil}
	draw := func() error {
		if _, err := io.WriteString(out, frame(Render(screen, info))); err != nil {
			return fmt.Errorf("terminal panel: draw: %w", err)
		}
		return nil
	}
	if err := draw(); err != nil {
		return err
	}

	// Keys and notes go to the kiosk in the order typed, paced as a person
	// would (see pacer), on a goroutine of their own so that the frame keeps
	// being drawn while a note waits at the slot.
	pace := newPacer()
	inputs := make(chan termInput, 64)
	results := make(chan termResult, 64)
	stop := make(chan struct{})
	defer close(stop)
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		runInputs(inputs, results, stop, ctx.Done(), pace, keys, feeder, log)
	}()
	// quit lets what was typed before Q reach the kiosk, briefly.
	quit := func() error {
		close(inputs)
		select {
		case <-worked:
		case <-time.After(2 * time.Second):
		}
		return nil
	}

	var dec keyDecoder
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-screens:
			if !ok {
				return nil
			}
			screen, info.Waiting = s, false
			pace.show(s.State)
		case <-resized:
		case d := <-opts.Receipts:
			info.Receipt = d.Text()
			if d.QR != "" {
				info.Receipt = append(info.Receipt, "[QR] "+d.QR)
			}
		case r := <-results:
			info.LastEvent, info.Warn = r.event, r.warn
		case b, ok := <-chunks:
			if !ok {
				chunks = nil // no more input; keep showing screens
				continue
			}
			for _, ti := range dec.feed(b) {
				switch {
				case ti.Quit:
					return quit()
				case ti.Redraw:
				case ti.Paper:
					if opts.TogglePaper == nil {
						info.LastEvent, info.Warn = "no sim printer (printer.kind sim)", true
					} else {
						info.LastEvent, info.Warn = opts.TogglePaper(), false
					}
				default:
					select {
					case inputs <- ti:
					default:
						info.LastEvent, info.Warn = "typed too fast: "+inputName(ti)+" dropped", true
						continue
					}
					if ti.Key == "" {
						info.LastEvent, info.Warn = inputName(ti)+" at the slot…", false
					}
				}
			}
		}
		if err := draw(); err != nil {
			return err
		}
	}
}

// termResult is what became of a typed key or note.
type termResult struct {
	event string
	warn  bool
}

func inputName(ti termInput) string {
	switch {
	case ti.Key != "":
		return "key " + string(ti.Key)
	case ti.Fake:
		return "fake bill"
	}
	return "bill " + ti.Bill.String()
}

// runInputs presses the keys and feeds the notes typed in the terminal, one
// after the other, until stop or done is closed.
func runInputs(inputs <-chan termInput, results chan<- termResult, stop, done <-chan struct{}, pace *pacer, keys chan<- kiosk.Key, feeder BillFeeder, log *slog.Logger) {
	for {
		var ti termInput
		select {
		case in, ok := <-inputs:
			if !ok {
				return
			}
			ti = in
		case <-stop:
			return
		case <-done:
			return
		}
		var r termResult
		if ti.Key != "" {
			pressed := pace.key(ti.Key, func() bool {
				select {
				case keys <- ti.Key:
					return true
				case <-stop:
					return false
				case <-done:
					return false
				}
			}, stop, done)
			if !pressed {
				return
			}
			r = termResult{event: inputName(ti)}
		} else {
			r.event, r.warn = feedBill(feeder, ti, log)
		}
		select {
		case results <- r:
		default:
			// Nobody reads any more (quitting), or far behind: the
			// frame shows a later event anyway.
		}
	}
}

// feedBill offers a bill key's banknote and says what became of it.
func feedBill(f BillFeeder, in termInput, log *slog.Logger) (event string, warn bool) {
	cmd, what := Command{Kind: CmdBill, Value: in.Bill}, "bill "+in.Bill.String()
	if in.Fake {
		cmd, what = Command{Kind: CmdFake}, "fake bill"
	}
	if err := feed(f, cmd); err != nil {
		log.Warn("terminal panel: bill not taken", "bill", what, "err", err)
		return what + " not taken: " + err.Error(), true
	}
	return what + " inserted", false
}

// frame turns Render's lines into what redraws a raw terminal in place:
// from home, each line cleared to its end, and the rest of the screen
// cleared. Drawing over the old frame instead of clearing first keeps it
// from flickering.
func frame(r string) string {
	var b strings.Builder
	b.WriteString(home)
	for l := range strings.SplitSeq(r, "\n") {
		b.WriteString(l)
		b.WriteString(clearEOL)
		b.WriteString("\r\n")
	}
	b.WriteString(clearBelow)
	return b.String()
}

// isTerminal asks without in.Fd(), which would switch in to blocking mode and
// so take read deadlines (and the clean stop they give) away from a pipe.
func isTerminal(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var is bool
	if err := rc.Control(func(fd uintptr) { is = term.IsTerminal(int(fd)) }); err != nil {
		return false
	}
	return is
}

func makeRaw(f *os.File) (restore func(), err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var old *term.State
	cerr := rc.Control(func(fd uintptr) { old, err = term.MakeRaw(int(fd)) })
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return func() {
		rc.Control(func(fd uintptr) { term.Restore(int(fd), old) })
	}, nil
}

// readChunks reads in on its own goroutine. stop ends it at once where in
// supports deadlines (pipes, sockets); a terminal read cannot be interrupted,
// so there the goroutine ends with the next keystroke or the process.
func readChunks(in *os.File) (<-chan []byte, func()) {
	chunks := make(chan []byte)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(chunks)
		buf := make([]byte, 256)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				select {
				case chunks <- bytes.Clone(buf[:n]):
				case <-quit:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return chunks, func() {
		close(quit)
		if in.SetReadDeadline(time.Now()) == nil {
			<-done
			in.SetReadDeadline(time.Time{})
		}
	}
}
