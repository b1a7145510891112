package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"tolem/kiosk"
)

// run is the loop: one pass over what is due, then a wait for the earliest
// of the next scheduled attempt, a Wake, a heartbeat, a probe or the check
// interval. After Close (or ctx) one more pass is the final flush.
func (o *Outbox) run(ctx context.Context) {
	defer close(o.done)
	o.mu.Lock()
	rc := o.runCtx
	o.mu.Unlock()
	o.stopCtx = ctx
	o.nextHeartbeat = o.clock.Now()
	for {
		o.pass(rc, false)
		if o.stopping(ctx) {
			break
		}
		d := o.sleepFor()
		t := o.clock.NewTimer(d)
		o.setLoop(true, d)
		select {
		case <-t.C():
		case <-o.wake:
		case <-o.closing:
		case <-ctx.Done():
		}
		t.Stop()
		o.setLoop(false, 0)
	}
	o.pass(rc, true)
}

// setLoop records whether the loop waits, and for how long, and counts the
// passes: tests step a fake clock only while the loop waits.
func (o *Outbox) setLoop(waiting bool, sleep time.Duration) {
	now := o.clock.Now()
	o.mu.Lock()
	if waiting {
		o.loop.passes++
	}
	o.loop.waiting, o.loop.sleep, o.loop.progress = waiting, sleep, now
	o.mu.Unlock()
}

func (o *Outbox) stopping(ctx context.Context) bool {
	select {
	case <-o.closing:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// woken consumes a pending Wake.
func (o *Outbox) woken() bool {
	select {
	case <-o.wake:
		return true
	default:
		return false
	}
}

// pass does everything due now. The final flush only delivers: no
// heartbeat, no probe.
func (o *Outbox) pass(ctx context.Context, final bool) {
	o.deliver(ctx, final)
	o.refreshQueue(ctx)
	o.checkAlarms(ctx)
}

// chores run before every request, so that a long drain still keeps the
// queue's counts, the alarms and the heartbeat current.
func (o *Outbox) chores(ctx context.Context, final bool) {
	now := o.clock.Now()
	o.mu.Lock()
	o.loop.progress = now
	o.mu.Unlock()
	o.takeResets()
	if !now.Before(o.queueReadAt.Add(queueRefresh)) {
		o.refreshQueue(ctx)
	}
	o.checkAlarms(ctx)
	if final {
		return
	}
	now = o.clock.Now()
	if !now.Before(o.nextHeartbeat) && !now.Before(o.holdUntil) {
		o.heartbeat(ctx)
	}
}

// sleepFor is how long the loop may wait before something falls due. Only
// times still ahead count: what was due and could not be done waits for
// something with a time of its own (a Retry-After, a ledger retry).
func (o *Outbox) sleepFor() time.Duration {
	now := o.clock.Now()
	next := now.Add(o.opt.CheckInterval)
	earlier := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	o.wakeups = slices.DeleteFunc(o.wakeups, func(t time.Time) bool { return !t.After(now) })
	for _, t := range o.wakeups {
		earlier(t)
	}
	earlier(o.nextHeartbeat)
	if o.linkDown {
		earlier(o.nextProbe)
		earlier(o.queueHold)
	}
	earlier(o.alarmCheckAt)
	earlier(o.storeRetryAt)
	earlier(o.holdUntil)
	if o.queueLogged && o.queue != o.loggedQueue {
		earlier(o.queueLoggedAt.Add(logEvery))
	}
	return next.Sub(now)
}

func (o *Outbox) schedule(t time.Time) {
	if !t.IsZero() {
		o.wakeups = append(o.wakeups, t)
	}
}

func (o *Outbox) takeResets() {
	o.mu.Lock()
	resets := o.resets
	o.resets = nil
	o.mu.Unlock()
	if len(resets) > 0 {
		// A technician's retry goes out now, bank down or not.
		o.queueHold = time.Time{}
	}
	for _, id := range resets {
		if id == "" {
			clear(o.fails)
			continue
		}
		delete(o.fails, id)
		delete(o.polls, id)
	}
}

// deliver sends what is due until nothing is, or a failure stops the pass:
// in each window of due top-ups the unsent ones first (fresh money), then the
// status polls; collections when no top-up is due.
func (o *Outbox) deliver(ctx context.Context, final bool) {
	for ctx.Err() == nil {
		o.waitGate(ctx)
		o.chores(ctx, final)
		now := o.clock.Now()
		if now.Before(o.holdUntil) || now.Before(o.storeRetryAt) {
			return
		}
		due, err := o.store.DueTopUps(ctx, now, o.opt.BatchSize)
		if err != nil {
			o.storeFailed(ctx, "read the due top-ups", err)
			return
		}
		o.storeOK()
		if o.linkDown && !final && now.Before(o.queueHold) {
			due = nil
		}
		var unsent, pending []kiosk.TopUp
		for _, t := range due {
			if t.Sync == kiosk.SyncPending {
				pending = append(pending, t)
			} else {
				unsent = append(unsent, t)
			}
		}
		switch {
		case len(due) > 0:
			// The window is worked in full, unsent first: a window of
			// pending top-ups would otherwise shrink the batches behind it.
			if len(unsent) > 0 && !o.submit(ctx, unsent) {
				return
			}
			for i, t := range pending {
				if i > 0 || len(unsent) > 0 {
					o.chores(ctx, final)
					if o.clock.Now().Before(o.holdUntil) {
						return
					}
				}
				if !o.poll(ctx, t) {
					return
				}
				// A top-up completed meanwhile goes before older polls.
				if o.woken() {
					break
				}
			}
		default:
			if !o.deliverCollections(ctx) {
				return
			}
			// With nothing to send, a ping finds out whether the bank is
			// back; when it is, what waits out a back-off is due at once.
			if final || !o.linkDown || o.clock.Now().Before(o.nextProbe) || !o.probe(ctx) {
				return
			}
		}
	}
}

// body is the stored body of t, made and stored first if it has none: a
// retry must send the very bytes of the first send.
func (o *Outbox) body(ctx context.Context, t kiosk.TopUp) ([]byte, error) {
	if b, ok := o.bodies[t.ID]; ok {
		return b, nil
	}
	enc, err := o.bank.EncodeTopUp(t)
	if err != nil {
		return nil, err
	}
	// SetBody keeps a body stored before (by an earlier run) and returns it.
	b, err := o.store.SetBody(ctx, t.ID, enc)
	if err != nil {
		return nil, err
	}
	o.bodies[t.ID] = b
	return b, nil
}

// batchWrite bounds the top-ups recorded in one transaction. The ledger has
// one writer: a customer's escrow record waits for the transaction in
// progress, so a transaction stays short (tens of updates, a few ms) even
// when the bank answered a batch of hundreds.
const batchWrite = 25

// bodiesOf are the stored bodies of ts, in order; those not stored yet are
// stored batchWrite to a transaction when the store can.
func (o *Outbox) bodiesOf(ctx context.Context, ts []kiosk.TopUp) ([][]byte, bool) {
	bodies := make([][]byte, len(ts))
	bs, batched := o.store.(BatchStore)
	var (
		missing []int
		ids     []string
		encs    [][]byte
	)
	for i, t := range ts {
		if b, ok := o.bodies[t.ID]; ok {
			bodies[i] = b
			continue
		}
		if !batched || len(ts) == 1 {
			b, err := o.body(ctx, t)
			if err != nil {
				o.storeFailed(ctx, "store the body of top-up "+t.ID, err)
				return nil, false
			}
			bodies[i] = b
			continue
		}
		enc, err := o.bank.EncodeTopUp(t)
		if err != nil {
			o.storeFailed(ctx, "store the body of top-up "+t.ID, err)
			return nil, false
		}
		missing, ids, encs = append(missing, i), append(ids, t.ID), append(encs, enc)
	}
	for lo := 0; lo < len(ids); lo += batchWrite {
		hi := min(lo+batchWrite, len(ids))
		o.waitGate(ctx)
		stored, err := bs.SetBodies(ctx, ids[lo:hi], encs[lo:hi])
		if err != nil {
			o.storeFailed(ctx, fmt.Sprintf("store the bodies of %d top-ups", hi-lo), err)
			return nil, false
		}
		for k, b := range stored {
			i := missing[lo+k]
			o.bodies[ts[i].ID] = b
			bodies[i] = b
		}
	}
	return bodies, true
}

// submit sends unsent top-ups: a batch when more than one is due, a single
// POST otherwise. It reports whether the pass may go on.
func (o *Outbox) submit(ctx context.Context, ts []kiosk.TopUp) bool {
	bodies, ok := o.bodiesOf(ctx, ts)
	if !ok {
		return false
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	o.count(func(c *Counts) { c.Requests++ })
	if len(ts) == 1 {
		ans, err := o.bank.SubmitTopUp(ctx, ids[0], bodies[0])
		if err != nil && ctx.Err() != nil {
			return false
		}
		if err != nil && !isReview(err) {
			o.failed(ctx, ts, err)
			return false
		}
		o.linkUp(ctx)
		return o.settle(ctx, ts[0], ans, err)
	}
	answers, err := o.bank.SubmitBatch(ctx, ids, bodies)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if classify(err).kind == KindReview {
			// The bank refused the batch itself, not an item of it: send
			// them one by one, so that only a bad body goes to review.
			o.log.Warn("bank refused a batch; sending its top-ups one by one", "count", len(ts), "err", err)
			o.linkUp(ctx)
			for _, t := range ts {
				if !o.submit(ctx, []kiosk.TopUp{t}) {
					return false
				}
			}
			return true
		}
		o.failed(ctx, ts, err)
		return false
	}
	if len(answers) != len(ts) {
		// A client that breaks its contract: nothing is known, retry all.
		o.failed(ctx, ts, fmt.Errorf("bank client gave %d answers for a batch of %d", len(answers), len(ts)))
		return false
	}
	o.linkUp(ctx)
	if bs, batched := o.store.(BatchStore); batched {
		return o.recordBatch(ctx, bs, ts, answers)
	}
	changed := false
	ok = true
	for i, t := range ts {
		a := answers[i]
		if a.Err != nil && !isReview(a.Err) {
			// The bank answered the batch but not this item as asked: it
			// backs off alone.
			if !o.backOff(ctx, []kiosk.TopUp{t}, a.Err) {
				ok = false
				break
			}
			continue
		}
		if !o.settleOne(ctx, t, a.Answer, a.Err) {
			ok = false
			break
		}
		changed = true
	}
	if changed {
		o.onChange()
	}
	return ok
}

// recordBatch records the answers to a batch, batchWrite to a transaction:
// the same records as settleOne and backOff make one by one. Should a
// transaction fail, its records are tried one by one, so that only the
// top-up the ledger refuses stays behind.
func (o *Outbox) recordBatch(ctx context.Context, bs BatchStore, ts []kiosk.TopUp, answers []ItemAnswer) bool {
	now := o.clock.Now()
	us := make([]kiosk.SyncUpdate, len(ts))
	retry := make([]bool, len(ts))
	for i, t := range ts {
		a := answers[i]
		if a.Err != nil && !isReview(a.Err) {
			// The bank answered the batch but not this item as asked: it
			// backs off alone.
			f := classify(a.Err)
			o.fails[t.ID]++
			us[i] = kiosk.SyncUpdate{ID: t.ID, State: t.Sync, Note: f.note, Next: now.Add(o.retryDelay(o.fails[t.ID], f.retryAfter)), At: now}
			retry[i] = true
			continue
		}
		us[i] = o.outcome(t, a.Answer, a.Err, now)
	}
	changed := false
	defer func() {
		o.flushAlarms()
		if changed {
			o.onChange()
		}
	}()
	for lo := 0; lo < len(ts); lo += batchWrite {
		hi := min(lo+batchWrite, len(ts))
		// A customer who began to pay while the request was out does not
		// wait on these transactions: the answers wait in memory, and the
		// next request waits for them (a resend after a cut gets the same
		// answers back).
		o.waitGate(ctx)
		if err := bs.UpdateSyncs(ctx, us[lo:hi]); err != nil {
			o.log.Warn("ledger refused a batch's outcomes; recording them one by one", "count", hi-lo, "err", err)
			for i := lo; i < hi; i++ {
				u := us[i]
				if err := o.store.UpdateSync(ctx, u.ID, u.State, u.Note, u.Next, u.At); err != nil {
					o.storeFailed(ctx, "record the bank's answer for top-up "+u.ID, err)
					return false
				}
				changed = o.recorded(ts[i], u, retry[i]) || changed
			}
			continue
		}
		for i := lo; i < hi; i++ {
			changed = o.recorded(ts[i], us[i], retry[i]) || changed
		}
	}
	return true
}

// recorded follows up a record of recordBatch; it reports whether the top-up
// was settled (not a retry).
func (o *Outbox) recorded(t kiosk.TopUp, u kiosk.SyncUpdate, retry bool) bool {
	if retry {
		o.schedule(u.Next)
		o.log.Debug("bank request failed; retrying later", "topups", 1, "failures", o.fails[t.ID],
			"retry_in", u.Next.Sub(u.At).String(), "err", u.Note)
		return false
	}
	o.settled(t, u)
	return true
}

// poll reads the status of a pending top-up.
func (o *Outbox) poll(ctx context.Context, t kiosk.TopUp) bool {
	o.count(func(c *Counts) { c.Requests++ })
	ans, err := o.bank.TopUpStatus(ctx, t.ID)
	if err != nil && ctx.Err() != nil {
		return false
	}
	if err != nil && isRetry(err) {
		o.failed(ctx, []kiosk.TopUp{t}, err)
		return false
	}
	o.linkUp(ctx)
	return o.settle(ctx, t, ans, err)
}

func isRetry(err error) bool  { return classify(err).kind == KindRetry }
func isReview(err error) bool { return classify(err).kind == KindReview }

// settle records one answer that is not a retry and tells the flow.
func (o *Outbox) settle(ctx context.Context, t kiosk.TopUp, ans Answer, err error) bool {
	ok := o.settleOne(ctx, t, ans, err)
	o.onChange()
	return ok
}

// settleOne commits the bank's word on t: its status, review, or "unknown,
// submit again". Retries are retryLater's.
func (o *Outbox) settleOne(ctx context.Context, t kiosk.TopUp, ans Answer, err error) bool {
	o.waitGate(ctx)
	u := o.outcome(t, ans, err, o.clock.Now())
	if uerr := o.store.UpdateSync(ctx, t.ID, u.State, u.Note, u.Next, u.At); uerr != nil {
		o.storeFailed(ctx, "record the bank's answer for top-up "+t.ID, uerr)
		return false
	}
	o.settled(t, u)
	o.flushAlarms()
	return true
}

// outcome is the record of the bank's word on t.
func (o *Outbox) outcome(t kiosk.TopUp, ans Answer, err error, now time.Time) kiosk.SyncUpdate {
	var (
		state kiosk.SyncState
		note  string
		next  time.Time
	)
	if err != nil {
		f := classify(err)
		switch f.kind {
		case KindReview:
			state, note = kiosk.SyncReview, f.note
		default: // KindUnknown
			state, note = kiosk.SyncUnsent, "the bank does not know this top-up; submitting it again"
		}
	} else {
		switch ans.State {
		case kiosk.SyncCredited:
			state = kiosk.SyncCredited
		case kiosk.SyncRejected:
			state, note = kiosk.SyncRejected, ans.Reason
		default:
			state = kiosk.SyncPending
			k := o.polls[t.ID]
			o.polls[t.ID] = k + 1
			next = now.Add(o.pollDelay(k))
		}
	}
	return kiosk.SyncUpdate{ID: t.ID, State: state, Note: note, Next: next, At: now}
}

// settled follows up a recorded outcome: the outbox's own state, counts,
// logs and alarms.
func (o *Outbox) settled(t kiosk.TopUp, u kiosk.SyncUpdate) {
	state, note, next := u.State, u.Note, u.Next
	delete(o.fails, t.ID)
	o.schedule(next)
	log := o.log.With("receipt", t.ReceiptNo, "topup", t.ID)
	switch state {
	case kiosk.SyncCredited:
		delete(o.polls, t.ID)
		delete(o.bodies, t.ID)
		o.count(func(c *Counts) { c.Credited++; bump(&c.CreditedBy, t.ServiceName()) })
		log.Info("top-up credited", "amount", t.Amount.String())
	case kiosk.SyncPending:
		if t.Sync != kiosk.SyncPending {
			o.count(func(c *Counts) { c.Pending++ })
			log.Info("top-up accepted, the bank credits it later", "next_poll", next)
		}
	case kiosk.SyncRejected:
		delete(o.polls, t.ID)
		delete(o.bodies, t.ID)
		o.count(func(c *Counts) { c.Rejected++; bump(&c.RejectedBy, t.ServiceName()) })
		log.Warn("bank rejected the top-up; it stays on the review list and the bank refunds the customer",
			"reason", note, "service", t.ServiceName(), "account", kiosk.MaskAccount(t.Payee()), "amount", t.Amount.String())
	case kiosk.SyncReview:
		delete(o.polls, t.ID)
		delete(o.bodies, t.ID)
		o.count(func(c *Counts) { c.Review++ })
		log.Warn("bank refused the top-up; it is on the review list: check it with the bank, then `retry` it",
			"why", note, "phone", t.Phone.Masked(), "amount", t.Amount.String())
	case kiosk.SyncUnsent:
		delete(o.polls, t.ID)
		o.count(func(c *Counts) { c.Resubmitted++ })
		log.Warn("bank does not know a top-up it had answered for; submitting it again")
	}
	if state != kiosk.SyncUnsent && state != kiosk.SyncPending {
		// Published by the caller, once for a batch: after an outage every
		// top-up of a long queue has an alarm, and a sorted list per
		// settled top-up made draining it quadratic.
		if _, ok := o.alarms[t.ID]; ok {
			delete(o.alarms, t.ID)
			o.alarmsDirty = true
		}
		delete(o.warned, t.ID)
	}
}

// flushAlarms publishes the alarms when settling cleared some.
func (o *Outbox) flushAlarms() {
	if o.alarmsDirty {
		o.publishAlarms()
	}
}

// failed records a retryable failure of the request that carried ts: the
// bank as a whole did not answer as asked, so the pass stops (the rest of the
// queue would meet the same) and ts back off.
func (o *Outbox) failed(ctx context.Context, ts []kiosk.TopUp, err error) {
	o.linkDownNow(o.clock.Now(), classify(err))
	if next, ok := o.backOffUntil(ctx, ts, err); ok {
		o.queueHold = next
	}
}

// backOff records a failed attempt for ts and when to try again. It reports
// whether the ledger took the record.
func (o *Outbox) backOff(ctx context.Context, ts []kiosk.TopUp, err error) bool {
	_, ok := o.backOffUntil(ctx, ts, err)
	return ok
}

// backOffUntil is backOff, with the time of the next attempt.
func (o *Outbox) backOffUntil(ctx context.Context, ts []kiosk.TopUp, err error) (time.Time, bool) {
	f := classify(err)
	ra, note := f.retryAfter, f.note
	now := o.clock.Now()
	n := 0
	for _, t := range ts {
		o.fails[t.ID]++
		n = max(n, o.fails[t.ID])
	}
	// One draw for the request: the top-ups of a failed batch stay together
	// and go again as one batch.
	next := now.Add(o.retryDelay(n, ra))
	o.waitGate(ctx)
	for _, t := range ts {
		// The state stays as it was (unsent, or pending for a poll); the
		// attempt and its error are on record for the console.
		if uerr := o.store.UpdateSync(ctx, t.ID, t.Sync, note, next, now); uerr != nil {
			o.storeFailed(ctx, "record a failed attempt for top-up "+t.ID, uerr)
			return next, false
		}
	}
	o.schedule(next)
	o.log.Debug("bank request failed; retrying later", "topups", len(ts), "failures", n,
		"retry_in", next.Sub(now).String(), "err", note)
	return next, true
}

// linkDownNow notes a failure to get what was asked from the bank.
func (o *Outbox) linkDownNow(now time.Time, f failure) {
	note := f.note
	if !o.linkDown {
		// A bank that fails one request in five would fill the log with
		// pairs of lines: one warning a minute is enough to see it.
		if o.downLoggedAt.IsZero() || now.Sub(o.downLoggedAt) >= linkLogEvery {
			o.downLoggedAt, o.downLogged = now, true
			o.log.Warn("bank not answering as it should; top-ups wait in the ledger and are retried",
				"err", note)
		} else {
			o.log.Debug("bank not answering as it should", "err", note)
		}
	}
	o.linkDown, o.release = true, true
	// Jittered, so that a fleet cut off together does not probe in step.
	o.nextProbe = now.Add(time.Duration((0.5 + 0.5*o.rand()) * float64(o.opt.ProbeInterval)))
	if f.throttled && f.retryAfter > 0 {
		if hold := now.Add(f.retryAfter); hold.After(o.holdUntil) {
			o.holdUntil = hold
		}
	}
	hold := o.holdUntil
	o.setStatus(func(s *Status) {
		s.Reachable = false
		s.LastError, s.LastErrorAt = note, now
		s.HoldUntil = hold
		s.Counts.Failures++
	})
}

// linkUp notes an answer from the bank. The first after failures makes the
// top-ups waiting out a back-off due at once: the bank is back, and the queue
// should not wait minutes more for timers set while it was away.
func (o *Outbox) linkUp(ctx context.Context) {
	now := o.clock.Now()
	o.setStatus(func(s *Status) {
		s.Reachable = true
		s.LastSuccess = now
	})
	if !o.release {
		return
	}
	n, err := o.releaseBackoffs(ctx, now)
	if err != nil {
		o.storeFailed(ctx, "make the waiting top-ups due", err)
		return
	}
	o.release = false
	if !o.linkDown {
		return
	}
	o.linkDown, o.queueHold = false, time.Time{}
	if o.downLogged {
		o.downLogged = false
		o.log.Info("bank answers again; sending what waits", "due_now", n)
	} else {
		o.log.Debug("bank answers again", "due_now", n)
	}
}

// releaseBackoffs makes the top-ups backing off after failures due now. A
// handful go one by one, so that the status polls of pending top-ups keep
// their pace on a bank that fails a request now and then; after an outage,
// or at the first answer since start (the last run's back-offs are in the
// ledger only), one write releases every unsent and pending top-up.
func (o *Outbox) releaseBackoffs(ctx context.Context, now time.Time) (int, error) {
	o.waitGate(ctx)
	if o.firstContact || len(o.fails) > releaseOneByOne {
		n, err := o.store.Retry(ctx, "", now)
		if err != nil {
			return 0, err
		}
		o.firstContact = false
		clear(o.fails)
		return n, nil
	}
	n := 0
	for id := range o.fails {
		k, err := o.store.Retry(ctx, id, now)
		if errors.Is(err, kiosk.ErrLedgerWrite) {
			return n, err
		}
		// Otherwise the top-up was decided meanwhile: nothing to release.
		n += k
		delete(o.fails, id)
	}
	return n, nil
}

// retryDelay is the wait after the n-th consecutive failure: full jitter
// under min(MinBackoff·2^(n-1), MaxBackoff), and never before the bank's
// Retry-After.
func (o *Outbox) retryDelay(n int, retryAfter time.Duration) time.Duration {
	d := time.Duration(o.rand() * float64(o.ceiling(o.opt.MinBackoff, n-1)))
	return max(d, retryAfter)
}

// pollDelay is the wait before the next status read of a top-up that was
// pending k times before: PollAfter·2^k capped at MaxBackoff, with half of it
// jittered so that polls of a batch spread out.
func (o *Outbox) pollDelay(k int) time.Duration {
	c := o.ceiling(o.opt.PollAfter, k)
	return c/2 + time.Duration(o.rand()*float64(c/2))
}

// ceiling is base·2^k, capped at MaxBackoff.
func (o *Outbox) ceiling(base time.Duration, k int) time.Duration {
	c := base
	for i := 0; i < k && c < o.opt.MaxBackoff; i++ {
		c *= 2
	}
	return min(c, o.opt.MaxBackoff)
}

// probe pings the bank while it does not answer, and reports whether it
// does now.
func (o *Outbox) probe(ctx context.Context) bool {
	o.count(func(c *Counts) { c.Requests++ })
	err := o.bank.Ping(ctx)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		o.linkDownNow(o.clock.Now(), classify(err))
		return false
	}
	o.linkUp(ctx)
	return true
}

// heartbeat tells the bank how the kiosk is; it also probes the link.
func (o *Outbox) heartbeat(ctx context.Context) {
	now := o.clock.Now()
	o.nextHeartbeat = now.Add(o.opt.HeartbeatInterval)
	hb := Heartbeat{Queue: o.queue}
	if o.opt.Describe != nil {
		o.opt.Describe(ctx, &hb)
	}
	if len(o.alarms) > 0 && !slices.Contains(hb.Alarms, AlarmTopUpOverdue) {
		hb.Alarms = append(hb.Alarms, AlarmTopUpOverdue)
	}
	o.count(func(c *Counts) { c.Requests++ })
	err := o.bank.Heartbeat(ctx, hb)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		o.linkDownNow(o.clock.Now(), classify(err))
		return
	}
	o.setStatus(func(s *Status) {
		s.LastHeartbeat = now
		s.Counts.Heartbeats++
	})
	o.linkUp(ctx)
}

// deliverCollections posts the collections due, oldest first. It reports
// whether the pass may go on.
func (o *Outbox) deliverCollections(ctx context.Context) bool {
	if o.cols == nil {
		return true
	}
	now := o.clock.Now()
	cs, err := o.cols.DueCollections(ctx, now, collectionsPerPass)
	if err != nil {
		o.storeFailed(ctx, "read the due collections", err)
		return false
	}
	for _, c := range cs {
		if ctx.Err() != nil || !o.postCollection(ctx, c) {
			return false
		}
	}
	return true
}

func (o *Outbox) postCollection(ctx context.Context, c Collection) bool {
	enc, err := o.bank.EncodeCollection(c)
	if err != nil {
		return o.recordCollection(ctx, c, CollectionReview, "cannot encode the collection: "+err.Error(), time.Time{})
	}
	o.waitGate(ctx)
	body, err := o.cols.SetCollectionBody(ctx, c.ID, enc)
	if err != nil {
		o.storeFailed(ctx, "store the body of collection "+c.ID, err)
		return false
	}
	o.count(func(cn *Counts) { cn.Requests++ })
	err = o.bank.PostCollection(ctx, c.ID, body)
	if err != nil && ctx.Err() != nil {
		return false
	}
	now := o.clock.Now()
	if err == nil {
		o.linkUp(ctx)
		delete(o.colFails, c.ID)
		o.count(func(cn *Counts) { cn.Collections++ })
		o.log.Info("collection reported to the bank", "collection", c.ID, "seal", c.Seal, "amount", c.Amount.String())
		return o.recordCollection(ctx, c, CollectionSent, "", time.Time{})
	}
	f := classify(err)
	note := f.note
	if f.kind == KindReview {
		o.linkUp(ctx)
		o.log.Warn("bank refused the collection; it is on the review list", "collection", c.ID, "why", note)
		return o.recordCollection(ctx, c, CollectionReview, note, time.Time{})
	}
	o.linkDownNow(now, f)
	o.colFails[c.ID]++
	next := now.Add(o.retryDelay(o.colFails[c.ID], f.retryAfter))
	o.schedule(next)
	o.recordCollection(ctx, c, CollectionUnsent, note, next)
	return false
}

func (o *Outbox) recordCollection(ctx context.Context, c Collection, st CollectionState, note string, next time.Time) bool {
	o.waitGate(ctx)
	if err := o.cols.UpdateCollectionSync(ctx, c.ID, st, note, next, o.clock.Now()); err != nil {
		o.storeFailed(ctx, "record the delivery of collection "+c.ID, err)
		return false
	}
	return true
}

// storeFailed pauses the loop after a ledger failure. What the bank answered
// and could not be recorded is asked again later: the same body under the
// same id gets the same status back.
func (o *Outbox) storeFailed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	o.storeRetryAt = o.clock.Now().Add(storeRetry)
	if msg := err.Error(); msg != o.storeErr {
		o.storeErr = msg
		o.log.Error("outbox cannot "+op+"; it tries again shortly (check the ledger's disk if this repeats)", "err", err)
	}
}

func (o *Outbox) storeOK() {
	if o.storeErr != "" {
		o.log.Info("outbox reads the ledger again")
		o.storeErr = ""
	}
}

func (o *Outbox) count(f func(c *Counts)) {
	o.setStatus(func(s *Status) { f(&s.Counts) })
}

// refreshQueue reads the queue's counts (a cheap read on the ledger's read
// pool) and logs a line when they change.
func (o *Outbox) refreshQueue(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	q, err := o.store.Queue(ctx)
	if err != nil {
		o.storeFailed(ctx, "count the queue", err)
		return
	}
	o.queueReadAt = o.clock.Now()
	if !o.queueKnown || q != o.queue {
		o.queue, o.queueKnown = q, true
		o.setStatus(func(s *Status) { s.Queue = q })
	}
	// A line on change, at most one per logEvery while a queue drains, and
	// at once when it empties or starts to fill.
	if q == o.loggedQueue && o.queueLogged {
		return
	}
	now := o.clock.Now()
	empty, wasEmpty := q.Unsent+q.Pending == 0, o.loggedQueue.Unsent+o.loggedQueue.Pending == 0
	if o.queueLogged && empty == wasEmpty && now.Sub(o.queueLoggedAt) < logEvery {
		return
	}
	o.loggedQueue, o.queueLogged, o.queueLoggedAt = q, true, now
	args := []any{"unsent", q.Unsent, "unsent_amount", q.UnsentAmount.String(), "pending", q.Pending, "review", q.Review}
	if !q.OldestAt.IsZero() {
		args = append(args, "oldest_at", q.OldestAt)
	}
	o.log.Info("top-up queue", args...)
}

// checkAlarms raises an alarm for each top-up still unsent or pending
// AlarmAfter after its completion, and logs each one once. The list is read
// only while the oldest top-up is overdue, and then every alarmRefresh.
func (o *Outbox) checkAlarms(ctx context.Context) {
	if ctx.Err() != nil || !o.queueKnown {
		return
	}
	now := o.clock.Now()
	q := o.queue
	if q.Unsent+q.Pending == 0 || q.OldestAt.Add(o.opt.AlarmAfter).After(now) {
		o.alarmCheckAt = time.Time{}
		if q.Unsent+q.Pending > 0 {
			o.alarmCheckAt = q.OldestAt.Add(o.opt.AlarmAfter)
		}
		if len(o.alarms) > 0 {
			clear(o.alarms)
			clear(o.warned)
			o.publishAlarms()
		}
		return
	}
	if now.Before(o.alarmCheckAt) {
		return
	}
	ts, err := o.store.TopUpsBySync(ctx, kiosk.SyncUnsent, kiosk.SyncPending)
	if err != nil {
		o.storeFailed(ctx, "list the waiting top-ups", err)
		return
	}
	next := now.Add(alarmRefresh)
	clear(o.alarms)
	for _, t := range ts {
		due := t.CompletedAt.Add(o.opt.AlarmAfter)
		if due.After(now) {
			if due.Before(next) {
				next = due
			}
			continue
		}
		o.alarms[t.ID] = Alarm{TopUpID: t.ID, ReceiptNo: t.ReceiptNo, State: t.Sync, CompletedAt: t.CompletedAt}
		if !o.warned[t.ID] {
			o.warned[t.ID] = true
			o.log.Warn("top-up not credited "+o.opt.AlarmAfter.String()+" after completion; it stays queued until the bank takes it",
				"receipt", t.ReceiptNo, "topup", t.ID, "sync", string(t.Sync), "completed_at", t.CompletedAt,
				"amount", t.Amount.String())
		}
	}
	for id := range o.warned {
		if _, ok := o.alarms[id]; !ok {
			delete(o.warned, id)
		}
	}
	o.alarmCheckAt = next
	o.publishAlarms()
}

func (o *Outbox) publishAlarms() {
	o.alarmsDirty = false
	list := make([]Alarm, 0, len(o.alarms))
	for _, a := range o.alarms {
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b Alarm) int {
		switch {
		case a.ReceiptNo < b.ReceiptNo:
			return -1
		case a.ReceiptNo > b.ReceiptNo:
			return 1
		}
		return 0
	})
	o.setStatus(func(s *Status) { s.Alarms = list })
}
