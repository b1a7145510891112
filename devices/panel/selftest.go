package panel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
)

// SelfTester is the hardware self-test behind the console's `test display`
// and `test keys`.
type SelfTester interface {
	// TestPattern lights every dot of every cell, then shows every character
	// of the configured ROM and every custom pattern, a page at a time, and
	// puts the flow's screen back. A wrong ROM in the config shows here as
	// pages of the wrong characters.
	TestPattern(ctx context.Context) error
	// KeyEcho hands each key press to out, instead of to the flow, and shows
	// it on the display, until ctx ends; then the flow's screen comes back.
	KeyEcho(ctx context.Context, out func(kiosk.Key)) error
}

// ErrTestRunning is returned when a self-test is asked for while one runs.
var ErrTestRunning = errors.New("panel: a self-test is already running")

// own takes the display from the flow for a self-test.
func (p *Panel) own() error {
	p.screenMu.Lock()
	defer p.screenMu.Unlock()
	if p.testing {
		return ErrTestRunning
	}
	p.testing = true
	return nil
}

// release gives the display back and draws the flow's latest screen.
func (p *Panel) release() error {
	p.screenMu.Lock()
	defer p.screenMu.Unlock()
	p.testing = false
	if err := p.disp.Show(p.screen); err != nil {
		return fmt.Errorf("panel: restore screen: %w", err)
	}
	return nil
}

// releaseJoin releases the display and adds a failure to do so to err.
func (p *Panel) releaseJoin(err error) error {
	if rerr := p.release(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func (p *Panel) wait(ctx context.Context) error {
	t := p.clock.NewTimer(p.dwell)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// TestPattern implements SelfTester.
func (p *Panel) TestPattern(ctx context.Context) (err error) {
	if err := p.own(); err != nil {
		return err
	}
	defer func() { err = p.releaseJoin(err) }()
	for _, page := range testPages(p.disp.ROM()) {
		if err := p.disp.Draw(page.codes, page.glyphs); err != nil {
			return fmt.Errorf("panel: test pattern: %w", err)
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

type page struct {
	codes  [charrom.Rows][charrom.Cols]byte
	glyphs []charrom.Glyph
}

// testPages are the pages of TestPattern: all dots on; the ROM's characters,
// 80 to a page; the custom patterns, eight to a page under a title.
func testPages(rom charrom.ROM) []page {
	var pages []page
	var full page
	full.glyphs = []charrom.Glyph{charrom.FullBlock}
	pages = append(pages, full) // every code 0: the full block

	space, _ := rom.Code(' ')
	blank := func() page {
		var pg page
		for i := range pg.codes {
			for j := range pg.codes[i] {
				pg.codes[i][j] = space
			}
		}
		return pg
	}
	codes := rom.Codes()
	for len(codes) > 0 {
		pg := blank()
		n := min(len(codes), charrom.Rows*charrom.Cols)
		for i, c := range codes[:n] {
			pg.codes[i/charrom.Cols][i%charrom.Cols] = c
		}
		codes = codes[n:]
		pages = append(pages, pg)
	}
	all := charrom.Glyphs()
	total := (len(all) + charrom.Slots - 1) / charrom.Slots
	for k := 0; len(all) > 0; k++ {
		n := min(len(all), charrom.Slots)
		title, _ := charrom.Map(rom, [charrom.Rows]string{fmt.Sprintf("Custom %d/%d", k+1, total)})
		pg := blank()
		pg.codes[0] = title[0]
		pg.glyphs = all[:n]
		for i := range n {
			pg.codes[2][2*i] = byte(i)
		}
		all = all[n:]
		pages = append(pages, pg)
	}
	return pages
}

// KeyEcho implements SelfTester.
func (p *Panel) KeyEcho(ctx context.Context, out func(kiosk.Key)) (err error) {
	if err := p.own(); err != nil {
		return err
	}
	defer func() { err = p.releaseJoin(err) }()
	var (
		mu     sync.Mutex
		seen   = map[kiosk.Key]bool{}
		last   kiosk.Key
		active = true
	)
	// A key that arrives as the test ends must not draw over the flow's
	// screen once it is back: draw only while active, under mu.
	draw := func() error {
		mu.Lock()
		defer mu.Unlock()
		if !active {
			return nil
		}
		return p.disp.Show(kiosk.Screen{Lines: keyTestLines(seen, last)})
	}
	if err := draw(); err != nil {
		return fmt.Errorf("panel: key test: %w", err)
	}
	echo := func(k kiosk.Key) {
		mu.Lock()
		seen[k], last = true, k
		mu.Unlock()
		if out != nil {
			out(k)
		}
		if err := draw(); err != nil {
			p.log.Warn("key test: display failed", "err", err)
		}
	}
	p.echo.Store(&echo)
	<-ctx.Done()
	p.echo.Store(nil)
	mu.Lock()
	active = false
	mu.Unlock()
	return nil
}

// keyTestLines shows the last key and which keys have worked so far, so a
// technician can go over the whole keypad and see a dead key at once.
func keyTestLines(seen map[kiosk.Key]bool, last kiosk.Key) [4]string {
	var digits strings.Builder
	for d := '0'; d <= '9'; d++ {
		if seen[kiosk.Key(string(d))] {
			digits.WriteRune(d)
		} else {
			digits.WriteByte('.')
		}
	}
	var buttons []string
	for _, b := range []struct {
		k     kiosk.Key
		short string
	}{{kiosk.KeyOK, "OK"}, {kiosk.KeyCancel, "CAN"}, {kiosk.KeyBack, "BCK"}, {kiosk.KeyLang, "LNG"}} {
		if seen[b.k] {
			buttons = append(buttons, b.short)
		} else {
			buttons = append(buttons, strings.Repeat("-", len(b.short)))
		}
	}
	lastLine := "Press every key"
	if last != "" {
		lastLine = "Key: " + string(last)
	}
	return [4]string{"Key test", lastLine, digits.String(), strings.Join(buttons, " ")}
}
