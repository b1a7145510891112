package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// A batch's outcomes are recorded together or not at all: a refusal of one
// (here a credited top-up moved back to pending) leaves every one as it was.
func TestUpdateSyncsAllOrNothing(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	var ids []string
	for i := 0; i < 3; i++ {
		sid := fmt.Sprintf("s%d", i)
		openSession(t, l, sid)
		stack(t, l, sid, 1, kiosk.Tenge(1000))
		tu, err := l.CompleteTopUp(ctx, sid, t0)
		must(t, err)
		ids = append(ids, tu.ID)
	}
	stored, err := l.SetBodies(ctx, ids, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
	must(t, err)
	if string(stored[1]) != "b" {
		t.Fatalf("stored body %q, want b", stored[1])
	}
	// A body once stored stays: the bytes every retry sends.
	stored, err = l.SetBodies(ctx, ids[:1], [][]byte{[]byte("other")})
	must(t, err)
	if string(stored[0]) != "a" {
		t.Fatalf("body after a second store %q, want a", stored[0])
	}

	at := t0.Add(time.Minute)
	must(t, l.UpdateSync(ctx, ids[2], kiosk.SyncCredited, "", time.Time{}, at))
	err = l.UpdateSyncs(ctx, []kiosk.SyncUpdate{
		{ID: ids[0], State: kiosk.SyncCredited, At: at},
		{ID: ids[1], State: kiosk.SyncPending, Next: at.Add(time.Minute), At: at},
		{ID: ids[2], State: kiosk.SyncPending, At: at},
	})
	wantErr(t, err, ledger.ErrConflict)
	for _, id := range ids[:2] {
		tu, _, err := l.TopUpByID(ctx, id)
		must(t, err)
		if tu.Sync != kiosk.SyncUnsent {
			t.Errorf("top-up %s is %s after a refused batch, want unsent", id, tu.Sync)
		}
	}

	must(t, l.UpdateSyncs(ctx, []kiosk.SyncUpdate{
		{ID: ids[0], State: kiosk.SyncCredited, At: at},
		{ID: ids[1], State: kiosk.SyncPending, Next: at.Add(time.Minute), At: at},
	}))
	for i, want := range []kiosk.SyncState{kiosk.SyncCredited, kiosk.SyncPending} {
		tu, _, err := l.TopUpByID(ctx, ids[i])
		must(t, err)
		d, err := l.Delivery(ctx, ids[i])
		must(t, err)
		if tu.Sync != want || d.Attempts != 1 {
			t.Errorf("top-up %d: %s after %d attempts, want %s after 1", i, tu.Sync, d.Attempts, want)
		}
	}
}
