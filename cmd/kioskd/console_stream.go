package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"sync"

	"tolem/kiosk/console"
)

// streamProtocol is the Upgrade token of an interactive command on the
// control socket. After "101 Switching Protocols" both ends send one JSON
// object a line (streamFrame): kioskd the command's output, its questions
// and finally its exit code; kioskctl the technician's answers and Ctrl-C.
const streamProtocol = "tolem-console"

// streamFrame is one line of the stream, in either direction.
type streamFrame struct {
	// kioskd → kioskctl
	Out    string `json:"out,omitempty"`
	Prompt string `json:"prompt,omitempty"`
	Echo   bool   `json:"echo,omitempty"`
	Exit   *int   `json:"exit,omitempty"`
	// kioskctl → kioskd
	Line      *string `json:"line,omitempty"`
	Interrupt bool    `json:"interrupt,omitempty"`
	EOF       bool    `json:"eof,omitempty"`
}

// streamAnswer is what the technician sent for a question.
type streamAnswer struct {
	line string
	err  error
}

// streamTerm is the console.Term of a command run over the stream.
type streamTerm struct {
	mu      sync.Mutex
	w       *bufio.Writer
	enc     *json.Encoder
	cancel  context.CancelFunc
	asking  bool
	answers chan streamAnswer
}

func newStreamTerm(w *bufio.Writer, cancel context.CancelFunc) *streamTerm {
	return &streamTerm{w: w, enc: json.NewEncoder(w), cancel: cancel, answers: make(chan streamAnswer, 1)}
}

func (t *streamTerm) send(f streamFrame) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enc.Encode(f); err != nil {
		return err
	}
	return t.w.Flush()
}

func (t *streamTerm) Write(p []byte) (int, error) {
	if err := t.send(streamFrame{Out: string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (t *streamTerm) ReadLine(ctx context.Context, prompt string, echo bool) (string, error) {
	t.mu.Lock()
	t.asking = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.asking = false
		t.mu.Unlock()
	}()
	if err := t.send(streamFrame{Prompt: prompt, Echo: echo}); err != nil {
		return "", console.ErrInterrupted
	}
	select {
	case a := <-t.answers:
		return a.line, a.err
	case <-ctx.Done():
		return "", console.ErrInterrupted
	}
}

func (t *streamTerm) exit(code int) { _ = t.send(streamFrame{Exit: &code}) }

// readFrames takes kioskctl's frames until the connection ends. Ctrl-C
// answers a question with ErrInterrupted, and otherwise stops the command;
// a connection that ends stops it too.
func (t *streamTerm) readFrames(r *bufio.Reader) {
	defer t.cancel()
	dec := json.NewDecoder(r)
	for {
		var f streamFrame
		if err := dec.Decode(&f); err != nil {
			return
		}
		t.mu.Lock()
		asking := t.asking
		t.mu.Unlock()
		var a *streamAnswer
		switch {
		case f.Interrupt && asking:
			a = &streamAnswer{err: console.ErrInterrupted}
		case f.Interrupt:
			t.cancel()
		case f.EOF:
			a = &streamAnswer{err: io.EOF}
		case f.Line != nil:
			a = &streamAnswer{line: *f.Line}
		}
		if a != nil {
			// An answer nobody asked for replaces an older one: only the
			// latest can be meant for the next question.
			select {
			case <-t.answers:
			default:
			}
			t.answers <- *a
		}
	}
}
