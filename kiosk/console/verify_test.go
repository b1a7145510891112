package console

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// chainFake is the fake backend with a ledger that keeps a hash chain.
type chainFake struct {
	*fakeBackend
	report kiosk.ChainReport
}

func (c chainFake) VerifyChain(context.Context) (kiosk.ChainReport, error) { return c.report, nil }

func TestVerifyNamesTheFirstBrokenRow(t *testing.T) {
	head := kiosk.ChainHead{Count: 42, Head: strings.Repeat("ab", 32)}
	rows := map[string]int{"bills": 20, "topups": 7, "audit": 12, "cassette_periods": 3}
	ctx := context.Background()
	run := func(b Backend, args ...string) (int, string) {
		c := New(b, testOptions(kiosktest.NewFakeClock(time.Time{})))
		var out bytes.Buffer
		code := c.Exec(ctx, "ssh:anna", append([]string{"verify"}, args...), Output(&out))
		return code, out.String()
	}

	code, out := run(chainFake{newFake(t), kiosk.ChainReport{Head: head, Rows: rows}})
	if code != ExitOK || !strings.Contains(out, "42 entries") || !strings.Contains(out, "OK") {
		t.Errorf("intact ledger: exit %d\n%s", code, out)
	}

	broken := kiosk.ChainReport{Head: head, Rows: rows, Breaks: []kiosk.ChainBreak{
		{Seq: 17, Table: "bills", RowID: "s1/1", Field: "value", Chain: "100000", Row: "2000000",
			What: "the row differs from its last chain entry (17): it was changed behind the ledger's back"},
		{Table: "audit", RowID: "13", What: "the row is not in the chain: it was written behind the ledger's back"},
	}}
	code, out = run(chainFake{newFake(t), broken})
	if code != ExitFailed || !strings.Contains(out, "BROKEN  bills s1/1") || !strings.Contains(out, "value: chain has 100000, row has 2000000") ||
		!strings.Contains(out, "audit 13") {
		t.Errorf("broken ledger: exit %d\n%s", code, out)
	}
	code, out = run(chainFake{newFake(t), broken}, "--json")
	var doc struct {
		OK     bool               `json:"ok"`
		Head   kiosk.ChainHead    `json:"head"`
		Breaks []kiosk.ChainBreak `json:"breaks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitFailed || doc.OK || doc.Head != head ||
		len(doc.Breaks) != 2 || doc.Breaks[0].RowID != "s1/1" {
		t.Errorf("verify --json: exit %d, %v\n%s", code, err, out)
	}

	code, out = run(newFake(t))
	if code != ExitFailed || !strings.Contains(out, "no hash chain") {
		t.Errorf("backend without a chain: exit %d\n%s", code, out)
	}
}
