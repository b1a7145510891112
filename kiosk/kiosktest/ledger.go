package kiosktest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"tolem/kiosk"
)

// Ledger operation names, for FakeLedger.Fail and FakeLedger.Ops.
const (
	OpOpenSession     = "OpenSession"
	OpRecordEscrow    = "RecordEscrow"
	OpMarkStacking    = "MarkStacking"
	OpMarkStacked     = "MarkStacked"
	OpMarkReturned    = "MarkReturned"
	OpCompleteTopUp   = "CompleteTopUp"
	OpCloseSession    = "CloseSession"
	OpPendingRecovery = "PendingRecovery"
	OpRecover         = "Recover"
	OpSettleLate      = "SettleLate"
	OpQueue           = "Queue"
	OpAudit           = "Audit"
	OpRecordSuspense  = "RecordSuspense"
)

var writeOps = []string{OpOpenSession, OpRecordEscrow, OpMarkStacking, OpMarkStacked, OpMarkReturned,
	OpCompleteTopUp, OpCloseSession, OpRecover, OpSettleLate, OpAudit}

// LedgerSession is a session as the FakeLedger holds it.
type LedgerSession struct {
	kiosk.Session
	Closed   bool
	ClosedAt time.Time
	TopUp    *kiosk.TopUp
}

// FakeLedger is an in-memory kiosk.Ledger with the same rules as the real
// one: escrow before stacked, idempotent marks, one top-up per session,
// receipt numbers from 1. Writes can be made to fail with kiosk.ErrLedgerWrite
// to stand for a full or read-only disk.
type FakeLedger struct {
	mu       sync.Mutex
	sessions map[string]*LedgerSession
	order    []string
	bills    map[string]*kiosk.BillRecord
	billList []string
	topups   []kiosk.TopUp
	audit    []kiosk.AuditEntry
	ops      []string
	fail     map[string]bool
	receipt  int64
	queue    *kiosk.QueueStats
	recovers []*kiosk.PowerUpReport
	lates    []*kiosk.PowerUpReport
	noReport map[string]bool // bills the last Recover without a report left uncertain
}

// NewFakeLedger returns an empty ledger.
func NewFakeLedger() *FakeLedger {
	return &FakeLedger{
		sessions: map[string]*LedgerSession{},
		bills:    map[string]*kiosk.BillRecord{},
		fail:     map[string]bool{},
		noReport: map[string]bool{},
	}
}

// Fail makes the named operations fail with kiosk.ErrLedgerWrite; with no
// names it makes every write fail.
func (l *FakeLedger) Fail(ops ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(ops) == 0 {
		ops = writeOps
	}
	for _, op := range ops {
		l.fail[op] = true
	}
}

// Heal makes every operation succeed again.
func (l *FakeLedger) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.fail)
}

// SetQueue fixes what Queue answers; nil makes it count the unsent top-ups
// the ledger holds.
func (l *FakeLedger) SetQueue(q *kiosk.QueueStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = q
}

// SetSync moves a top-up to another sync state, as the outbox would.
func (l *FakeLedger) SetSync(topUpID string, s kiosk.SyncState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.topups {
		if l.topups[i].ID == topUpID {
			l.topups[i].Sync = s
		}
	}
}

// begin logs the call and reports the injected failure, if any.
func (l *FakeLedger) begin(op string) error {
	l.ops = append(l.ops, op)
	if l.fail[op] {
		return fmt.Errorf("%s: disk I/O error (fake): %w", op, kiosk.ErrLedgerWrite)
	}
	return nil
}

// OpenSession records a session.
func (l *FakeLedger) OpenSession(_ context.Context, s kiosk.Session) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpOpenSession); err != nil {
		return err
	}
	if _, ok := l.sessions[s.ID]; ok {
		return nil
	}
	l.sessions[s.ID] = &LedgerSession{Session: s}
	l.order = append(l.order, s.ID)
	return nil
}

// RecordEscrow records a bill about to be stacked.
func (l *FakeLedger) RecordEscrow(_ context.Context, b kiosk.BillRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpRecordEscrow); err != nil {
		return err
	}
	s, ok := l.sessions[b.SessionID]
	if !ok {
		return fmt.Errorf("record escrow: session %s: %w", b.SessionID, kiosk.ErrNotFound)
	}
	if s.Closed {
		return fmt.Errorf("record escrow: session %s is closed", b.SessionID)
	}
	if _, ok := l.bills[b.ID]; ok {
		return nil
	}
	b.State = kiosk.BillEscrowed
	l.bills[b.ID] = &b
	l.billList = append(l.billList, b.ID)
	return nil
}

func (l *FakeLedger) mark(op, id string, to kiosk.BillState, at time.Time) error {
	if err := l.begin(op); err != nil {
		return err
	}
	b, ok := l.bills[id]
	if !ok {
		return fmt.Errorf("%s %s: %w", op, id, kiosk.ErrNotFound)
	}
	if b.State == to {
		return nil
	}
	if b.State != kiosk.BillEscrowed {
		return fmt.Errorf("%s %s: bill is %s", op, id, b.State)
	}
	b.State, b.At = to, at
	return nil
}

// MarkStacked records the bill in the cassette.
func (l *FakeLedger) MarkStacked(_ context.Context, id string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mark(OpMarkStacked, id, kiosk.BillStacked, at)
}

// MarkStacking records that the acceptor took STACK for the bill.
func (l *FakeLedger) MarkStacking(_ context.Context, id string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpMarkStacking); err != nil {
		return err
	}
	b, ok := l.bills[id]
	if !ok {
		return fmt.Errorf("%s %s: %w", OpMarkStacking, id, kiosk.ErrNotFound)
	}
	if b.State == kiosk.BillEscrowed && b.StackAt.IsZero() {
		b.StackAt = at
	}
	return nil
}

// MarkReturned records the bill given back.
func (l *FakeLedger) MarkReturned(_ context.Context, id string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mark(OpMarkReturned, id, kiosk.BillReturned, at)
}

// CompleteTopUp makes the session's top-up from its stacked bills.
func (l *FakeLedger) CompleteTopUp(_ context.Context, sessionID string, at time.Time) (kiosk.TopUp, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpCompleteTopUp); err != nil {
		return kiosk.TopUp{}, err
	}
	return l.completeLocked(sessionID, at, false)
}

func (l *FakeLedger) completeLocked(sessionID string, at time.Time, recovered bool) (kiosk.TopUp, error) {
	s, ok := l.sessions[sessionID]
	if !ok {
		return kiosk.TopUp{}, fmt.Errorf("complete top-up: session %s: %w", sessionID, kiosk.ErrNotFound)
	}
	if s.TopUp != nil {
		return *s.TopUp, nil
	}
	counts := map[kiosk.Money]int{}
	var sum kiosk.Money
	for _, id := range l.billList {
		b := l.bills[id]
		if b.SessionID == sessionID && b.State == kiosk.BillStacked {
			counts[b.Value]++
			sum += b.Value
		}
	}
	if sum == 0 {
		return kiosk.TopUp{}, fmt.Errorf("complete top-up %s: %w", sessionID, kiosk.ErrEmptySession)
	}
	l.receipt++
	t := kiosk.TopUp{
		ID: fmt.Sprintf("topup-%d", l.receipt), ReceiptNo: l.receipt, SessionID: sessionID,
		Phone: s.Phone, Service: s.Service, Account: s.Account, Amount: sum, Bills: billCounts(counts), Offline: s.Offline,
		CreatedAt: s.OpenedAt, CompletedAt: at, Sync: kiosk.SyncUnsent, Recovered: recovered,
	}
	s.TopUp = &t
	s.Closed, s.ClosedAt = true, at
	l.topups = append(l.topups, t)
	return t, nil
}

func billCounts(m map[kiosk.Money]int) []kiosk.BillCount {
	out := make([]kiosk.BillCount, 0, len(m))
	for v, n := range m {
		out = append(out, kiosk.BillCount{Value: v, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// CloseSession closes a session without money.
func (l *FakeLedger) CloseSession(_ context.Context, sessionID string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpCloseSession); err != nil {
		return err
	}
	s, ok := l.sessions[sessionID]
	if !ok {
		return fmt.Errorf("close session %s: %w", sessionID, kiosk.ErrNotFound)
	}
	for _, id := range l.billList {
		if b := l.bills[id]; b.SessionID == sessionID && b.State == kiosk.BillStacked && s.TopUp == nil {
			return fmt.Errorf("close session %s: it holds stacked bill %s", sessionID, id)
		}
	}
	s.Closed, s.ClosedAt = true, at
	return nil
}

// RecordSuspense keeps a bill no session owns.
func (l *FakeLedger) RecordSuspense(_ context.Context, v kiosk.Money, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpRecordSuspense); err != nil {
		return err
	}
	id := fmt.Sprintf("suspense-%d", len(l.billList)+1)
	l.bills[id] = &kiosk.BillRecord{ID: id, Value: v, State: kiosk.BillSuspense, At: at}
	l.billList = append(l.billList, id)
	return nil
}

// PendingRecovery reports an open session.
func (l *FakeLedger) PendingRecovery(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, OpPendingRecovery)
	for _, s := range l.sessions {
		if !s.Closed {
			return true, nil
		}
	}
	return false, nil
}

// Recover settles open sessions: an escrowed bill becomes stacked when the
// report puts a bill (of its value, or of unknown value) in the stacker,
// returned when the report puts it in the validator, uncertain otherwise; a
// session with stacked bills becomes a recovered top-up, one without is
// closed; a bill in the stacker that no escrow explains goes to suspense.
func (l *FakeLedger) Recover(_ context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpRecover); err != nil {
		return kiosk.RecoveryReport{}, err
	}
	if p != nil {
		c := *p
		l.recovers = append(l.recovers, &c)
	} else {
		l.recovers = append(l.recovers, nil)
	}
	var rep kiosk.RecoveryReport
	var escrowed []*kiosk.BillRecord // newest first
	for i := len(l.billList) - 1; i >= 0; i-- {
		if b := l.bills[l.billList[i]]; b.State == kiosk.BillEscrowed {
			escrowed = append(escrowed, b)
		}
	}
	l.settleLocked(p, escrowed, at, &rep, nil)
	if p == nil {
		for _, b := range escrowed {
			l.noReport[b.ID] = true
		}
	}
	for _, id := range l.order {
		s := l.sessions[id]
		if s.Closed {
			continue
		}
		t, err := l.completeLocked(id, at, true)
		if err == nil {
			rep.TopUps = append(rep.TopUps, t)
			continue
		}
		s.Closed, s.ClosedAt = true, at
		rep.Emptied++
	}
	return rep, nil
}

// settleLocked applies p to bills (newest first) as the ledger does: the
// newest is the one the device may hold; older ones left it stacked if STACK
// was taken for them. found, when not nil, collects the bills found stacked
// instead of marking them.
func (l *FakeLedger) settleLocked(p *kiosk.PowerUpReport, bills []*kiosk.BillRecord, at time.Time, rep *kiosk.RecoveryReport, found *[]*kiosk.BillRecord) {
	set := func(b *kiosk.BillRecord, st kiosk.BillState) {
		switch st {
		case kiosk.BillStacked:
			rep.Stacked++
			if found != nil {
				*found = append(*found, b)
				return
			}
		case kiosk.BillReturned:
			rep.Returned++
		case kiosk.BillUncertain:
			rep.Uncertain++
		}
		b.State, b.At = st, at
	}
	for i, b := range bills {
		st := kiosk.BillUncertain
		switch {
		case p == nil:
		case i > 0:
			if !b.StackAt.IsZero() {
				st = kiosk.BillStacked
			}
		case p.BillAt == kiosk.BillInStacker && (p.Value == 0 || p.Value == b.Value):
			st = kiosk.BillStacked
		case p.BillAt == kiosk.BillInValidator && (p.Value == 0 || p.Value == b.Value):
			// The bill in the head is this one, unless STACK was taken for
			// it: then it may be the next note, and this one stays uncertain.
			if b.StackAt.IsZero() {
				st = kiosk.BillReturned
			}
		case !b.StackAt.IsZero():
			st = kiosk.BillStacked
		}
		set(b, st)
	}
	stackerUsed := len(bills) > 0 && p != nil && p.BillAt == kiosk.BillInStacker && (p.Value == 0 || p.Value == bills[0].Value)
	if p != nil && p.BillAt == kiosk.BillInStacker && !stackerUsed {
		id := fmt.Sprintf("suspense-%d", len(l.billList)+1)
		l.bills[id] = &kiosk.BillRecord{ID: id, Value: p.Value, State: kiosk.BillSuspense, At: at}
		l.billList = append(l.billList, id)
		rep.Suspense++
	}
}

// SettleLate applies a late power-up report to the bills the last Recover
// without a report left uncertain; those found stacked are credited as
// reconciled follow-up top-ups.
func (l *FakeLedger) SettleLate(_ context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpSettleLate); err != nil {
		return kiosk.RecoveryReport{}, err
	}
	var rep kiosk.RecoveryReport
	if p == nil {
		return rep, nil
	}
	c := *p
	l.lates = append(l.lates, &c)
	var waiting []*kiosk.BillRecord
	for i := len(l.billList) - 1; i >= 0; i-- {
		if b := l.bills[l.billList[i]]; l.noReport[b.ID] && b.State == kiosk.BillUncertain {
			waiting = append(waiting, b)
		}
	}
	l.noReport = map[string]bool{}
	var found []*kiosk.BillRecord
	l.settleLocked(p, waiting, at, &rep, &found)
	for _, b := range found {
		s := l.sessions[b.SessionID]
		l.receipt++
		t := kiosk.TopUp{
			ID: fmt.Sprintf("topup-%d", l.receipt), ReceiptNo: l.receipt, SessionID: b.SessionID + "/r",
			Phone: s.Phone, Amount: b.Value, Bills: []kiosk.BillCount{{Value: b.Value, Count: 1}},
			CreatedAt: at, CompletedAt: at, Sync: kiosk.SyncUnsent, Recovered: true, Reconciled: true,
		}
		b.State, b.At = kiosk.BillStacked, at
		l.topups = append(l.topups, t)
		rep.TopUps = append(rep.TopUps, t)
	}
	return rep, nil
}

// Lates returns the reports SettleLate was given, in order.
func (l *FakeLedger) Lates() []*kiosk.PowerUpReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lates)
}

// Queue counts the unsent top-ups, or answers what SetQueue fixed.
func (l *FakeLedger) Queue(context.Context) (kiosk.QueueStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, OpQueue)
	if l.fail[OpQueue] {
		return kiosk.QueueStats{}, fmt.Errorf("queue: disk I/O error (fake): %w", kiosk.ErrLedgerWrite)
	}
	if l.queue != nil {
		return *l.queue, nil
	}
	var q kiosk.QueueStats
	for _, t := range l.topups {
		switch t.Sync {
		case kiosk.SyncUnsent:
			q.Unsent++
			q.UnsentAmount += t.Amount
		case kiosk.SyncPending:
			q.Pending++
		case kiosk.SyncReview:
			q.Review++
		default:
			continue
		}
		if q.OldestAt.IsZero() || t.CompletedAt.Before(q.OldestAt) {
			q.OldestAt = t.CompletedAt
		}
	}
	return q, nil
}

// Audit appends to the audit table.
func (l *FakeLedger) Audit(_ context.Context, e kiosk.AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.begin(OpAudit); err != nil {
		return err
	}
	l.audit = append(l.audit, e)
	return nil
}

// Ops lists every call in order (failed ones too).
func (l *FakeLedger) Ops() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// WriteOps lists the write calls in order, leaving out the reads
// (PendingRecovery, Queue) that tests rarely care about.
func (l *FakeLedger) WriteOps() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, op := range l.ops {
		if op != OpPendingRecovery && op != OpQueue {
			out = append(out, op)
		}
	}
	return out
}

// Sessions returns the sessions in the order they were opened.
func (l *FakeLedger) Sessions() []LedgerSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LedgerSession, 0, len(l.order))
	for _, id := range l.order {
		s := *l.sessions[id]
		if s.TopUp != nil {
			t := *s.TopUp
			s.TopUp = &t
		}
		out = append(out, s)
	}
	return out
}

// Session returns one session.
func (l *FakeLedger) Session(id string) (LedgerSession, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sessions[id]
	if !ok {
		return LedgerSession{}, false
	}
	return *s, true
}

// Bills returns every bill record in the order they were made.
func (l *FakeLedger) Bills() []kiosk.BillRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]kiosk.BillRecord, 0, len(l.billList))
	for _, id := range l.billList {
		out = append(out, *l.bills[id])
	}
	return out
}

// HasEscrowed reports whether a bill of value v is recorded escrowed, i.e.
// about to be stacked. It is the check a FakeAcceptor runs on Stack.
func (l *FakeLedger) HasEscrowed(v kiosk.Money) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bills {
		if b.State == kiosk.BillEscrowed && b.Value == v {
			return true
		}
	}
	return false
}

// TopUps returns the completed top-ups in receipt order.
func (l *FakeLedger) TopUps() []kiosk.TopUp {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.topups)
}

// AuditEntries returns the audit table.
func (l *FakeLedger) AuditEntries() []kiosk.AuditEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.audit)
}

// Recovers returns the power-up reports Recover was called with (nil for a
// call without one).
func (l *FakeLedger) Recovers() []*kiosk.PowerUpReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recovers)
}
