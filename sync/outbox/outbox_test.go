package outbox

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tolem/kiosk"
)

func TestOneDueTopUpGoesAsASinglePostAndIsCredited(t *testing.T) {
	r := newRig(t, nil).start()
	var tu kiosk.TopUp
	r.act(func() { tu = r.topUp(kiosk.Tenge(1000)) })

	r.wantSync(tu.ID, kiosk.SyncCredited)
	calls := r.bank.callsOf("")
	if len(calls) != 1 || calls[0].op != "submit" {
		t.Fatalf("calls = %+v, want one single submit", calls)
	}
	stored, _ := r.ledger.Body(context.Background(), tu.ID)
	if !bytes.Equal(stored, calls[0].body[0]) {
		t.Errorf("sent body %s is not the stored body %s", calls[0].body[0], stored)
	}
	if r.changeCount() == 0 {
		t.Error("the flow was not told that the queue changed")
	}
	if st := r.ob.Status(); !st.Reachable || st.LastSuccess.IsZero() || st.Queue.Unsent != 0 {
		t.Errorf("status = %+v, want the bank reachable and the queue empty", st)
	}
}

// Without a Wake, the loop's cheap check of the ledger finds the top-up.
func TestCheckIntervalFindsATopUpWithoutWake(t *testing.T) {
	r := newRig(t, func(o *Options) { o.CheckInterval = 2 * time.Second }).start()
	tu := r.topUp(kiosk.Tenge(1000))
	r.clock.Advance(2 * time.Second)
	deadline := time.Now().Add(waitLimit)
	for r.sync(tu.ID) != kiosk.SyncCredited {
		if time.Now().After(deadline) {
			t.Fatal("the top-up was not sent after the check interval")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatchesInReceiptOrder(t *testing.T) {
	r := newRig(t, func(o *Options) { o.BatchSize = 2 })
	var ids []string
	for range 5 {
		ids = append(ids, r.topUp(kiosk.Tenge(500)).ID)
	}
	r.start()

	calls := r.bank.callsOf("")
	var got [][]string
	var ops []string
	for _, c := range calls {
		got = append(got, c.ids)
		ops = append(ops, c.op)
	}
	want := [][]string{ids[0:2], ids[2:4], ids[4:5]}
	if !slices.EqualFunc(got, want, slices.Equal) || !slices.Equal(ops, []string{"batch", "batch", "submit"}) {
		t.Fatalf("requests %v %v, want batches of two in receipt order then a single POST: %v", ops, got, want)
	}
	for _, id := range ids {
		r.wantSync(id, kiosk.SyncCredited)
	}
}

// Every class of the bank's answer ends where SPEC §2 says, and nothing is
// deleted.
func TestAnswerClasses(t *testing.T) {
	review409 := &Error{Kind: KindReview, Note: "409 idempotency_conflict (same id, other body)", Err: errors.New("409")}
	review422 := &Error{Kind: KindReview, Note: "422 invalid (amount is not the sum of the bills)", Err: errors.New("422")}
	for _, c := range []struct {
		name     string
		answers  []func() (Answer, error) // per submit
		want     kiosk.SyncState
		wantNote string
		submits  int
	}{
		{"201 credited", []func() (Answer, error){credited}, kiosk.SyncCredited, "", 1},
		{"200 seen, rejected", []func() (Answer, error){func() (Answer, error) {
			return Answer{State: kiosk.SyncRejected, Reason: "wallet_not_found"}, nil
		}}, kiosk.SyncRejected, "wallet_not_found", 1},
		{"409 conflict", []func() (Answer, error){func() (Answer, error) { return Answer{}, review409 }}, kiosk.SyncReview, "409 idempotency_conflict", 1},
		{"422 invalid", []func() (Answer, error){func() (Answer, error) { return Answer{}, review422 }}, kiosk.SyncReview, "422 invalid", 1},
		{"503 then credited", []func() (Answer, error){
			func() (Answer, error) { return Answer{}, err503 }, credited}, kiosk.SyncCredited, "", 2},
		{"no answer then credited", []func() (Answer, error){
			func() (Answer, error) { return Answer{}, errDown }, credited}, kiosk.SyncCredited, "", 2},
		{"401 then credited", []func() (Answer, error){
			func() (Answer, error) {
				return Answer{}, &Error{Kind: KindRetry, Err: errors.New("401 bad_signature")}
			}, credited}, kiosk.SyncCredited, "", 2},
		{"unclassified error is retried", []func() (Answer, error){
			func() (Answer, error) { return Answer{}, errors.New("something odd") }, credited}, kiosk.SyncCredited, "", 2},
		{"429 then credited", []func() (Answer, error){
			func() (Answer, error) {
				return Answer{}, &Error{Kind: KindRetry, RetryAfter: 7 * time.Second, Throttled: true, Err: errors.New("429")}
			}, credited}, kiosk.SyncCredited, "", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.bank.submit = func(id string, n int) (Answer, error) { return c.answers[min(n, len(c.answers))-1]() }
			tu := r.topUp(kiosk.Tenge(2000))
			r.start()
			for range 10 {
				r.step(time.Minute)
			}
			r.wantSync(tu.ID, c.want)
			if n := len(r.bank.callsOf("submit")); n != c.submits {
				t.Errorf("%d submits, want %d", n, c.submits)
			}
			d := r.delivery(tu.ID)
			if c.wantNote != "" && !strings.Contains(d.Note, c.wantNote) {
				t.Errorf("note %q, want it to carry %q", d.Note, c.wantNote)
			}
			bodies := r.bank.bodiesOf(tu.ID)
			for _, b := range bodies[1:] {
				if !bytes.Equal(b, bodies[0]) {
					t.Errorf("a retry sent other bytes: %s, first %s", b, bodies[0])
				}
			}
			all, _ := r.ledger.TopUpsBySync(context.Background())
			if len(all) != 1 {
				t.Errorf("%d top-ups in the ledger, want the one kept", len(all))
			}
		})
	}
}

// Full jitter under a ceiling that doubles per failure, capped, and never
// earlier than the bank's Retry-After.
func TestBackoffDoublesUpToTheCapAndHonoursRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name       string
		rand       float64
		retryAfter time.Duration
		want       []float64 // seconds
	}{
		{"top of the jitter range", 1, 0, []float64{1, 2, 4, 8, 8, 8}},
		{"middle of the jitter range", 0.5, 0, []float64{0.5, 1, 2, 4, 4, 4}},
		{"Retry-After above the jitter", 0.5, 3 * time.Second, []float64{3, 3, 3, 4, 4, 4}},
		{"Retry-After above the cap", 1, 20 * time.Second, []float64{20, 20, 20, 20}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, func(o *Options) {
				o.MinBackoff, o.MaxBackoff = time.Second, 8*time.Second
				o.Rand = func() float64 { return c.rand }
				// Keep the probe and the heartbeat, which end a back-off
				// when they get an answer, out of it.
				o.ProbeInterval, o.HeartbeatInterval = time.Hour, time.Hour
			})
			r.bank.submit = func(string, int) (Answer, error) {
				return Answer{}, &Error{Kind: KindRetry, RetryAfter: c.retryAfter, Err: errors.New("503")}
			}
			tu := r.topUp(kiosk.Tenge(1000))
			r.start()
			var got []time.Duration
			for range c.want {
				d := r.delivery(tu.ID)
				got = append(got, d.NextAttemptAt.Sub(d.UpdatedAt))
				r.stepTo(d.NextAttemptAt)
			}
			for i := range c.want {
				if want := time.Duration(c.want[i] * float64(time.Second)); got[i] != want {
					t.Fatalf("waits %v, want %v (in seconds)", got, c.want)
				}
			}
			if n := len(r.bank.callsOf("submit")); n != len(c.want)+1 {
				t.Errorf("%d submits, want %d", n, len(c.want)+1)
			}
		})
	}
}

// While the Retry-After of the bank's rate limit runs, nothing goes out, not
// even another top-up's first send.
func TestRetryAfterHoldsEveryRequest(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rand = func() float64 { return 0 } })
	first := r.topUp(kiosk.Tenge(1000))
	r.bank.submit = func(id string, n int) (Answer, error) {
		if id == first.ID && n == 1 {
			return Answer{}, &Error{Kind: KindRetry, RetryAfter: 30 * time.Second, Throttled: true, Err: errors.New("429")}
		}
		return credited()
	}
	r.start()
	second := r.topUp(kiosk.Tenge(1000))
	r.step(29 * time.Second)
	if n := len(r.bank.callsOf("")); n != 1 {
		t.Fatalf("%d requests during the Retry-After, want only the first", n)
	}
	if st := r.ob.Status(); st.HoldUntil.IsZero() || st.Reachable {
		t.Errorf("status = %+v, want a hold and the bank not reachable", st)
	}
	r.step(time.Second)
	r.wantSync(first.ID, kiosk.SyncCredited)
	r.wantSync(second.ID, kiosk.SyncCredited)
}

// A 202 is followed by status reads at growing intervals until the bank
// decides.
func TestPendingIsPolledWithGrowingIntervals(t *testing.T) {
	r := newRig(t, func(o *Options) { o.PollAfter = 5 * time.Second; o.MaxBackoff = 30 * time.Second })
	r.bank.submit = func(string, int) (Answer, error) { return Answer{State: kiosk.SyncPending}, nil }
	r.bank.status = func(id string, n int) (Answer, error) {
		if n < 5 {
			return Answer{State: kiosk.SyncPending}, nil
		}
		return credited()
	}
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	r.wantSync(tu.ID, kiosk.SyncPending)
	start := r.clock.Now()
	for range 5 {
		d := r.delivery(tu.ID)
		r.stepTo(d.NextAttemptAt)
	}
	r.wantSync(tu.ID, kiosk.SyncCredited)
	var offsets []time.Duration
	for _, c := range r.bank.callsOf("status") {
		offsets = append(offsets, c.at.Sub(start))
	}
	want := []time.Duration{5 * time.Second, 15 * time.Second, 35 * time.Second, 65 * time.Second, 95 * time.Second}
	if !slices.Equal(offsets, want) {
		t.Errorf("polls at %v after the 202, want %v (5, 10, 20, then capped at 30)", offsets, want)
	}
	if st := r.ob.Status(); st.Counts.Pending != 1 || st.Counts.Credited != 1 {
		t.Errorf("counts = %+v", st.Counts)
	}
}

// A 404 on a status read means the bank never got it: the same body goes
// again under the same id.
func TestStatus404SubmitsAgainWithTheSameBody(t *testing.T) {
	r := newRig(t, nil)
	r.bank.submit = func(id string, n int) (Answer, error) {
		if n == 1 {
			return Answer{State: kiosk.SyncPending}, nil
		}
		return credited()
	}
	r.bank.status = func(string, int) (Answer, error) {
		return Answer{}, &Error{Kind: KindUnknown, Err: errors.New("404 not_found")}
	}
	tu := r.topUp(kiosk.Tenge(3000))
	r.start()
	r.stepTo(r.delivery(tu.ID).NextAttemptAt)

	r.wantSync(tu.ID, kiosk.SyncCredited)
	bodies := r.bank.bodiesOf(tu.ID)
	if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) {
		t.Fatalf("bodies sent: %q, want the same body twice", bodies)
	}
	if got := r.ob.Status().Counts.Resubmitted; got != 1 {
		t.Errorf("resubmitted = %d, want 1", got)
	}
}

// Review and rejected are end states: never retried by the loop, kept with
// the bank's words; a technician's retry sends a review item again.
func TestReviewIsKeptUntilATechnicianRetries(t *testing.T) {
	r := newRig(t, nil)
	var refuse atomic.Bool
	refuse.Store(true)
	r.bank.submit = func(id string, n int) (Answer, error) {
		if refuse.Load() {
			return Answer{}, &Error{Kind: KindReview, Note: "409 idempotency_conflict (other body)", Err: errors.New("409")}
		}
		return credited()
	}
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	for range 5 {
		r.step(10 * time.Minute)
	}
	r.wantSync(tu.ID, kiosk.SyncReview)
	if n := len(r.bank.callsOf("submit")); n != 1 {
		t.Fatalf("a top-up in review was sent %d times", n)
	}
	rv, _ := r.ledger.ReviewList(context.Background())
	if len(rv.TopUps) != 1 || !strings.Contains(rv.TopUps[0].Delivery.Note, "idempotency_conflict") {
		t.Fatalf("review list = %+v", rv.TopUps)
	}
	refuse.Store(false)
	r.act(func() {
		n, err := r.ob.RetryNow(context.Background(), tu.ID)
		if err != nil || n != 1 {
			t.Errorf("RetryNow = %d, %v", n, err)
		}
	})
	r.wantSync(tu.ID, kiosk.SyncCredited)
}

func TestRetryAllSkipsTheBackoff(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.ProbeInterval, o.HeartbeatInterval, o.MinBackoff = time.Hour, time.Hour, time.Minute
	})
	var down atomic.Bool
	down.Store(true)
	r.bank.submit = func(string, int) (Answer, error) {
		if down.Load() {
			return Answer{}, err503
		}
		return credited()
	}
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	r.step(time.Second)
	r.wantSync(tu.ID, kiosk.SyncUnsent)
	down.Store(false)
	r.act(func() {
		if _, err := r.ob.RetryNow(context.Background(), "all"); err != nil {
			t.Error(err)
		}
	})
	r.wantSync(tu.ID, kiosk.SyncCredited)
}

// While the bank is away the queue grows and backs off; the first answer to
// a probe sends everything at once, not when each back-off ends.
func TestRestoredLinkWakesTheQueueAtOnce(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.MinBackoff, o.MaxBackoff = time.Minute, 10*time.Minute
		o.ProbeInterval = 15 * time.Second
		o.HeartbeatInterval = time.Hour
	})
	var down atomic.Bool
	down.Store(true)
	isDown := down.Load
	r.bank.submit = func(string, int) (Answer, error) {
		if isDown() {
			return Answer{}, errDown
		}
		return credited()
	}
	r.bank.batch = func([]string) error {
		if isDown() {
			return errDown
		}
		return nil
	}
	r.bank.ping = func() error {
		if isDown() {
			return errDown
		}
		return nil
	}
	r.start()
	var ids []string
	for range 4 {
		ids = append(ids, r.topUp(kiosk.Tenge(1000)).ID)
		r.step(3 * time.Minute)
	}
	for _, id := range ids {
		r.wantSync(id, kiosk.SyncUnsent)
	}
	if st := r.ob.Status(); st.Reachable || st.Queue.Unsent != 4 || st.LastError == "" {
		t.Fatalf("status while the bank is away = %+v", st)
	}
	waitUntil := r.delivery(ids[0]).NextAttemptAt
	down.Store(false)
	r.step(15 * time.Second)
	for _, id := range ids {
		r.wantSync(id, kiosk.SyncCredited)
	}
	if now := r.clock.Now(); !now.Before(waitUntil) {
		t.Fatalf("delivered at %s, not before the back-off's end %s", now, waitUntil)
	}
	if st := r.ob.Status(); !st.Reachable {
		t.Errorf("status = %+v, want reachable", st)
	}
}

// 20 minutes after completion an unsent top-up raises an alarm: logged once,
// in the status, in the heartbeat. It is never dropped for its age, and the
// alarm clears when the bank takes it.
func TestAlarmAfterTwentyMinutes(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.HeartbeatInterval = time.Minute
		o.Describe = func(_ context.Context, hb *Heartbeat) { hb.State = "idle"; hb.Version = "test" }
	})
	var down atomic.Bool
	down.Store(true)
	isDown := down.Load
	r.bank.submit = func(string, int) (Answer, error) {
		if isDown() {
			return Answer{}, err503
		}
		return credited()
	}
	r.bank.ping = func() error {
		if isDown() {
			return err503
		}
		return nil
	}
	r.bank.heartbeat = func() error { return nil }
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	r.stepTo(tu.CompletedAt.Add(20*time.Minute - time.Second))
	if a := r.ob.Status().Alarms; len(a) != 0 {
		t.Fatalf("alarm before 20 minutes: %+v", a)
	}
	r.step(time.Second)
	a := r.ob.Status().Alarms
	if len(a) != 1 || a[0].TopUpID != tu.ID || a[0].ReceiptNo != tu.ReceiptNo {
		t.Fatalf("alarms at 20 minutes = %+v, want the top-up", a)
	}
	for range 120 { // two more hours
		r.step(time.Minute)
	}
	r.wantSync(tu.ID, kiosk.SyncUnsent)
	if n := r.logs.count("not credited 20m0s after completion"); n != 1 {
		t.Errorf("the alarm was logged %d times, want once", n)
	}
	r.bank.mu.Lock()
	hbs := slices.Clone(r.bank.heartbeats)
	r.bank.mu.Unlock()
	last := hbs[len(hbs)-1]
	if !slices.Contains(last.Alarms, AlarmTopUpOverdue) || last.Queue.Unsent != 1 || last.State != "idle" {
		t.Errorf("last heartbeat = %+v, want the overdue alarm and the queue", last)
	}

	down.Store(false)
	r.step(5 * time.Minute)
	r.wantSync(tu.ID, kiosk.SyncCredited)
	if a := r.ob.Status().Alarms; len(a) != 0 {
		t.Errorf("alarms after the credit = %+v", a)
	}
}

func TestHeartbeatCarriesTheQueue(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.HeartbeatInterval = time.Minute
		o.Describe = func(_ context.Context, hb *Heartbeat) {
			hb.State, hb.Version = "idle", "1.2.3"
			hb.Cassette = Cassette{Count: 3, Amount: kiosk.Tenge(3000), Capacity: 1000}
		}
	})
	r.bank.submit = func(string, int) (Answer, error) { return Answer{State: kiosk.SyncPending}, nil }
	r.bank.status = func(string, int) (Answer, error) { return Answer{State: kiosk.SyncPending}, nil }
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	r.step(time.Minute)
	r.bank.mu.Lock()
	hbs := slices.Clone(r.bank.heartbeats)
	r.bank.mu.Unlock()
	if len(hbs) != 2 {
		t.Fatalf("%d heartbeats after a minute, want one at start and one a minute later", len(hbs))
	}
	hb := hbs[1]
	if hb.Queue.Pending != 1 || !hb.Queue.OldestAt.Equal(tu.CompletedAt) || hb.Version != "1.2.3" || hb.Cassette.Capacity != 1000 {
		t.Errorf("heartbeat = %+v", hb)
	}
	if st := r.ob.Status(); st.LastHeartbeat.IsZero() || st.Counts.Heartbeats != 2 {
		t.Errorf("status = %+v", st)
	}
}

func TestCollectionsAreReported(t *testing.T) {
	r := newRig(t, nil)
	r.bank.collection = func(id string, n int) error {
		if n == 1 {
			return err503
		}
		return nil
	}
	r.topUp(kiosk.Tenge(5000))
	ctx := context.Background()
	col, err := r.ledger.CloseCollection(ctx, "BAG-1", r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	r.step(time.Minute)
	if calls := r.bank.callsOf("collection"); len(calls) != 2 || !bytes.Equal(calls[0].body[0], calls[1].body[0]) {
		t.Fatalf("collection posts = %+v, want two with the same body", calls)
	}
	due, _ := r.ledger.DueCollections(ctx, r.clock.Now().Add(time.Hour), 0)
	if len(due) != 0 {
		t.Fatalf("collection %s still due after the bank took it", col.ID)
	}

	col2, err := r.ledger.CloseCollection(ctx, "BAG-2", r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.bank.collection = func(string, int) error {
		return &Error{Kind: KindReview, Note: "409 idempotency_conflict", Err: errors.New("409")}
	}
	r.step(time.Minute)
	r.step(time.Hour)
	if calls := r.bank.callsOf("collection"); len(calls) != 3 || calls[2].ids[0] != col2.ID {
		t.Fatalf("collection posts = %d, want the refused one posted once", len(calls))
	}
}

// Close sends what is due, and gives up after FlushTimeout when the bank
// hangs; the top-up waits for the next start with its body stored.
func TestCloseFlushesWithinItsBound(t *testing.T) {
	t.Run("delivers what is due", func(t *testing.T) {
		r := newRig(t, nil).start()
		tu := r.topUp(kiosk.Tenge(1000)) // no Wake: only the flush sends it
		r.ob.Close()
		r.wantSync(tu.ID, kiosk.SyncCredited)
	})
	t.Run("bounded when the bank hangs", func(t *testing.T) {
		r := newRig(t, func(o *Options) { o.FlushTimeout = 5 * time.Second })
		r.bank.block = make(chan struct{}, 1)
		r.start()
		tu := r.topUp(kiosk.Tenge(1000))
		r.ob.Wake()
		select {
		case <-r.bank.block:
		case <-time.After(waitLimit):
			t.Fatal("the submit never reached the bank")
		}
		start := r.clock.Now()
		closed := make(chan struct{})
		go func() { r.ob.Close(); close(closed) }()
		for done := false; !done; {
			select {
			case <-closed:
				done = true
			case <-time.After(2 * time.Millisecond):
				r.clock.Advance(100 * time.Millisecond)
			}
			if r.clock.Now().Sub(start) > time.Hour {
				t.Fatal("Close did not return within an hour of the clock")
			}
		}
		if took := r.clock.Now().Sub(start); took < 5*time.Second || took > 8*time.Second {
			t.Errorf("Close took %s of the clock, want the 5 s bound", took)
		}
		r.wantSync(tu.ID, kiosk.SyncUnsent)
		if d := r.delivery(tu.ID); !d.HasBody {
			t.Error("the body was not stored before the send")
		}
	})
}

// A kiosk killed mid-request resumes with the stored body: the bank sees the
// same bytes under the same id, and never two requests for one top-up at once.
func TestRestartResendsTheStoredBody(t *testing.T) {
	r := newRig(t, func(o *Options) { o.FlushTimeout = time.Second })
	r.bank.block = make(chan struct{}, 1)
	r.start()
	tu := r.topUp(kiosk.Tenge(1000))
	r.ob.Wake()
	<-r.bank.block
	go func() {
		for range 50 {
			time.Sleep(time.Millisecond)
			r.clock.Advance(100 * time.Millisecond)
		}
	}()
	r.ob.Close()

	r.bank.mu.Lock()
	r.bank.block = nil
	r.bank.mu.Unlock()
	r.withOutbox(nil).start()
	r.wantSync(tu.ID, kiosk.SyncCredited)
	bodies := r.bank.bodiesOf(tu.ID)
	if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) {
		t.Fatalf("bodies = %q, want the same body before and after the restart", bodies)
	}
	r.bank.mu.Lock()
	defer r.bank.mu.Unlock()
	if r.bank.maxFlight != 1 {
		t.Errorf("%d requests in flight at once for one top-up", r.bank.maxFlight)
	}
}

func TestStatusCountsAndAlive(t *testing.T) {
	r := newRig(t, nil)
	if err := r.ob.Alive(context.Background()); err == nil {
		t.Error("Alive before Start = nil")
	}
	r.start()
	if err := r.ob.Alive(context.Background()); err != nil {
		t.Errorf("Alive = %v", err)
	}
	r.bank.submit = func(id string, n int) (Answer, error) {
		return Answer{State: kiosk.SyncRejected, Reason: "wallet_not_found"}, nil
	}
	r.act(func() { r.topUp(kiosk.Tenge(1000)) })
	st := r.ob.Status()
	if st.Counts.Rejected != 1 || st.Queue.Unsent != 0 {
		t.Errorf("status = %+v", st)
	}
	r.ob.Close()
	if err := r.ob.Alive(context.Background()); err == nil {
		t.Error("Alive after Close = nil")
	}
}

func TestNewNeedsStoreAndBank(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store and a bank succeeded")
	}
}

// failingStore fails every UpdateSync while fail is set, like a full disk.
type failingStore struct {
	Store
	fail atomic.Bool
}

func (s *failingStore) UpdateSync(ctx context.Context, id string, st kiosk.SyncState, note string, next, at time.Time) error {
	if s.fail.Load() {
		return kiosk.ErrLedgerWrite
	}
	return s.Store.UpdateSync(ctx, id, st, note, next, at)
}

// An answer the ledger could not record is asked for again once the ledger
// writes again: the same body under the same id, so the bank answers with
// the status instead of crediting twice. Meanwhile the loop does not spin.
func TestLedgerWriteFailurePausesAndResends(t *testing.T) {
	r := newRig(t, nil)
	fs := &failingStore{Store: r.ledger}
	fs.fail.Store(true)
	r.withOutbox(func(o *Options) { o.Store = fs })
	tu := r.topUp(kiosk.Tenge(1000))
	r.start()
	r.step(time.Second)
	r.step(time.Second)
	if n := len(r.bank.callsOf("submit")); n != 1 {
		t.Fatalf("%d submits while the ledger cannot record the answer, want 1 until the retry", n)
	}
	if r.logs.count("outbox cannot record the bank's answer") != 1 {
		t.Error("the ledger failure was not logged once")
	}
	fs.fail.Store(false)
	r.step(5 * time.Second)
	r.wantSync(tu.ID, kiosk.SyncCredited)
	bodies := r.bank.bodiesOf(tu.ID)
	if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) {
		t.Errorf("bodies = %q, want the same body twice", bodies)
	}
}
