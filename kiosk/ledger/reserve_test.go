package ledger_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
)

// On a full disk the bill already told to STACK is still recorded in the
// cassette (the space reserve gives up a page), while a new bill is refused
// before it could be stacked.
func TestFullDiskStillRecordsTheBillInFlight(t *testing.T) {
	ctx := ctxT(t)
	l, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{MaxBytes: 256 << 10})
	must(t, err)
	defer l.Close()
	openSession(t, l, "s")
	// Bills go in until the ledger cannot record one more: that one is
	// refused (and would be returned); the ones recorded were told to STACK.
	var inFlight []string
	for seq := 1; ; seq++ {
		err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: seq, Value: kiosk.Tenge(1000), At: t0})
		if err != nil {
			if !errors.Is(err, kiosk.ErrLedgerWrite) || !strings.Contains(err.Error(), "full") {
				t.Fatalf("bill %d: %v, want a full disk", seq, err)
			}
			break
		}
		inFlight = append(inFlight, ledger.BillID("s", seq))
		if seq > 5000 {
			t.Fatal("the size cap does not bite")
		}
	}
	// Only the last ones matter on a kiosk (one bill in flight at a time);
	// the reserve covers far more than that.
	inFlight = inFlight[len(inFlight)-20:]
	for _, id := range inFlight {
		must(t, l.MarkStacked(ctx, id, t0))
		if s := billState(t, l, id); s != kiosk.BillStacked {
			t.Fatalf("bill %s is %s", id, s)
		}
	}
	if r := verify(t, l); !r.OK() {
		t.Fatalf("chain after drawing on the reserve: %v", r.Breaks)
	}
}
