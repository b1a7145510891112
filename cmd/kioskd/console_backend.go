package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/console"
	"tolem/kiosk/flow"
	"tolem/kiosk/ledger"
)

// Flow conditions and settings the technician's doors own.
const (
	// conditionDoor keeps the kiosk from taking cash while the service door
	// is open.
	conditionDoor = "door_open"
	// settingManual keeps `service off` across a restart.
	settingManual = "kioskd.manual_out_of_service"
	// settingHealthProbe is rewritten by each health check, which proves
	// the ledger still takes writes.
	settingHealthProbe = "kioskd.health_probe_at"
)

// consoleBackend is the console's view of the running kiosk: the ledger,
// the flow, the acceptor, the panel and the outbox of the wiring.
type consoleBackend struct {
	w        *wiring
	doorOpen atomic.Bool
}

var _ console.Backend = (*consoleBackend)(nil)

func (b *consoleBackend) led() (*ledger.Ledger, error) {
	if b.w.ledger == nil {
		return nil, fmt.Errorf("%w (%v)", console.ErrNoLedger, b.w.ledgerErr)
	}
	return b.w.ledger, nil
}

func (b *consoleBackend) Service(context.Context) console.Service {
	st := b.w.flow.Status()
	svc := console.Service{
		State: st.State, Reasons: st.Reasons, Maintenance: st.Maintenance, Manual: st.Manual,
		InSession: st.State.InSession() || st.Session != nil, Screen: st.Screen.Lines,
		DoorOpen: b.doorOpen.Load(),
	}
	if s := st.Session; s != nil {
		svc.Payment = s.Service + " " + s.Account
	}
	return svc
}

func (b *consoleBackend) Acceptor() kiosk.AcceptorInfo { return b.w.acceptor.Info() }

func cassetteOf(p ledger.Period, capacity int) console.Cassette {
	return console.Cassette{
		OpenedAt: p.OpenedAt, Bills: p.Bills, Count: p.Count, Amount: p.Amount, Capacity: capacity,
		TopUps: p.TopUps, FirstReceipt: p.FirstReceipt, LastReceipt: p.LastReceipt,
		Suspense: p.Suspense, Uncertain: p.Uncertain, Services: p.Services,
	}
}

func (b *consoleBackend) Cassette(ctx context.Context) (console.Cassette, error) {
	l, err := b.led()
	if err != nil {
		return console.Cassette{}, err
	}
	p, err := l.CurrentPeriod(ctx)
	if err != nil {
		return console.Cassette{}, err
	}
	return cassetteOf(p, b.w.cfg.Acceptor.CassetteCapacity), nil
}

func deliveryOf(d ledger.Delivery) console.Delivery {
	return console.Delivery{
		Note: d.Note, LastError: d.LastError, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, CreditedAt: d.CreditedAt, UpdatedAt: d.UpdatedAt,
	}
}

func (b *consoleBackend) Queue(ctx context.Context, limit int) (console.Queue, error) {
	l, err := b.led()
	if err != nil {
		return console.Queue{}, err
	}
	q, err := l.Queue(ctx)
	if err != nil {
		return console.Queue{}, err
	}
	out := console.Queue{QueueStats: q}
	if g := b.w.gate; g != nil {
		if since, held := g.HeldSince(); held {
			out.HeldSince = since
		}
	}
	if limit <= 0 {
		return out, nil
	}
	ts, err := l.TopUpsBySync(ctx, kiosk.SyncUnsent, kiosk.SyncPending)
	if err != nil {
		return out, err
	}
	slices.SortFunc(ts, func(a, b kiosk.TopUp) int { return cmp.Compare(a.ReceiptNo, b.ReceiptNo) })
	for _, t := range ts[:min(limit, len(ts))] {
		d, err := l.Delivery(ctx, t.ID)
		if err != nil {
			return out, err
		}
		out.Oldest = append(out.Oldest, console.QueuedTopUp{TopUp: t, Delivery: deliveryOf(d)})
	}
	return out, nil
}

func (b *consoleBackend) Bank() console.BankStatus {
	if b.w.outbox == nil {
		return console.BankStatus{}
	}
	st := b.w.outbox.Status()
	bs := console.BankStatus{
		Known:     !st.LastSuccess.IsZero() || st.LastError != "",
		Reachable: st.Reachable, LastSuccess: st.LastSuccess, LastError: st.LastError,
		ClockOffset: b.w.outbox.ClockOffset(),
	}
	for _, a := range st.Alarms {
		bs.Alarms = append(bs.Alarms, "topup_overdue:"+strconv.FormatInt(a.ReceiptNo, 10))
	}
	return bs
}

func (b *consoleBackend) System() console.System {
	return console.System{Version: version, Started: b.w.started, DataDir: b.w.cfg.DataDir, Terminal: b.w.cfg.TerminalID, Sim: b.w.sim}
}

func (b *consoleBackend) detail(ctx context.Context, t kiosk.TopUp, bills []kiosk.BillRecord, err error) (console.TopUpDetail, error) {
	if err != nil {
		return console.TopUpDetail{}, err
	}
	d, err := b.w.ledger.Delivery(ctx, t.ID)
	if err != nil {
		return console.TopUpDetail{}, err
	}
	return console.TopUpDetail{TopUp: t, Bills: bills, Delivery: deliveryOf(d)}, nil
}

func (b *consoleBackend) TopUp(ctx context.Context, n int64) (console.TopUpDetail, error) {
	l, err := b.led()
	if err != nil {
		return console.TopUpDetail{}, err
	}
	t, bills, err := l.TopUpByReceipt(ctx, n)
	return b.detail(ctx, t, bills, err)
}

func (b *consoleBackend) TopUpByID(ctx context.Context, id string) (console.TopUpDetail, error) {
	l, err := b.led()
	if err != nil {
		return console.TopUpDetail{}, err
	}
	t, bills, err := l.TopUpByID(ctx, id)
	return b.detail(ctx, t, bills, err)
}

func (b *consoleBackend) Review(ctx context.Context) (console.Review, error) {
	l, err := b.led()
	if err != nil {
		return console.Review{}, err
	}
	rv, err := l.ReviewList(ctx)
	if err != nil {
		return console.Review{}, err
	}
	out := console.Review{Bills: rv.Bills}
	for _, t := range rv.TopUps {
		out.TopUps = append(out.TopUps, console.QueuedTopUp{TopUp: t.TopUp, Delivery: deliveryOf(t.Delivery)})
	}
	us, err := l.UncertainSessions(ctx)
	if err != nil {
		return console.Review{}, err
	}
	for _, u := range us {
		out.Sessions = append(out.Sessions, console.UncertainSession{SessionID: u.SessionID, Phone: u.Phone, OpenedAt: u.OpenedAt, TopUp: u.TopUp, Uncertain: u.Uncertain})
	}
	return out, nil
}

func (b *consoleBackend) Recovered(ctx context.Context, limit int) ([]kiosk.TopUp, error) {
	l, err := b.led()
	if err != nil {
		return nil, err
	}
	return l.RecoveredTopUps(ctx, limit)
}

// refused turns the ledger's refusal into the console's, keeping its reason.
func refused(err error) error {
	if !errors.Is(err, ledger.ErrConflict) {
		return err
	}
	msg := err.Error()
	prefix := ledger.ErrConflict.Error() + ": "
	if i := strings.LastIndex(msg, prefix); i >= 0 {
		msg = msg[i+len(prefix):]
	}
	return fmt.Errorf("%w: %s", console.ErrRefused, msg)
}

func (b *consoleBackend) Retry(ctx context.Context, id string) (int, error) {
	l, err := b.led()
	if err != nil {
		return 0, err
	}
	var n int
	if b.w.outbox != nil {
		// Through the outbox, which wakes up to send at once.
		n, err = b.w.outbox.RetryNow(ctx, id)
	} else {
		n, err = l.Retry(ctx, id, time.Now())
	}
	if err != nil {
		return 0, refused(err)
	}
	b.w.flow.QueueChanged()
	return n, nil
}

func (b *consoleBackend) SetManual(ctx context.Context, on bool) error {
	b.w.flow.SetCondition(flow.ConditionManual, on)
	l, err := b.led()
	if err == nil {
		v := "0"
		if on {
			v = "1"
		}
		err = l.SetSetting(ctx, settingManual, v)
	}
	if err != nil {
		return fmt.Errorf("in force until kioskd restarts, but not saved: %w", err)
	}
	return nil
}

// restoreManual puts back at start the out-of-service a technician set
// before the restart.
func (b *consoleBackend) restoreManual(ctx context.Context) {
	if b.w.ledger == nil {
		return
	}
	v, ok, err := b.w.ledger.Setting(ctx, settingManual)
	if err != nil {
		b.w.log.Warn("cannot read the saved service off; the kiosk starts in service", "err", err)
		return
	}
	if ok && v == "1" {
		b.w.flow.SetCondition(flow.ConditionManual, true)
		b.w.log.Warn("out of service by a technician (service off) before the restart; `service on` puts it back")
	}
}

func (b *consoleBackend) RequestMaintenance(ctx context.Context) error {
	return b.w.flow.RequestMaintenance(ctx)
}

func (b *consoleBackend) EndMaintenance() { b.w.flow.EndMaintenance() }

func (b *consoleBackend) CloseCollection(ctx context.Context, seal string) (console.Collection, error) {
	l, err := b.led()
	if err != nil {
		return console.Collection{}, err
	}
	c, err := l.CloseCollection(ctx, seal, time.Now())
	if err != nil {
		return console.Collection{}, refused(err)
	}
	if b.w.outbox != nil {
		b.w.outbox.Wake()
	}
	return console.Collection{ID: c.ID, Seal: c.Seal, Period: cassetteOf(c.Period, b.w.cfg.Acceptor.CassetteCapacity), ClosedAt: c.Period.ClosedAt}, nil
}

func (b *consoleBackend) Reconcile(ctx context.Context, ref string, counted []kiosk.BillCount, actor string) (console.Reconciliation, error) {
	l, err := b.led()
	if err != nil {
		return console.Reconciliation{}, err
	}
	r, err := l.Reconcile(ctx, ref, counted, actor, time.Now())
	if err != nil {
		return console.Reconciliation{}, refused(err)
	}
	if len(r.TopUps) > 0 && b.w.outbox != nil {
		b.w.outbox.Wake()
	}
	return console.Reconciliation{
		Collection: r.Collection, Counted: r.Counted, Recorded: r.Recorded,
		Stacked: r.Stacked, Returned: r.Returned, TopUps: r.TopUps, Unmatched: r.Unmatched,
	}, nil
}

func (b *consoleBackend) CycleAcceptor(ctx context.Context) error {
	acc := b.w.acceptor
	info := acc.Info()
	if !info.Ready {
		return fmt.Errorf("the acceptor is not ready (%s)", info.State)
	}
	if err := acc.Enable(ctx, info.Denominations); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	if err := acc.Disable(ctx); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	return nil
}

func (b *consoleBackend) SelfTester() console.SelfTester {
	if b.w.panel == nil || b.w.panel.tester == nil {
		return nil
	}
	return b.w.panel.tester
}

func (b *consoleBackend) SetDoorOpen(open bool) {
	b.doorOpen.Store(open)
	b.w.flow.SetCondition(conditionDoor, open)
}

// SetDoorAlarm keeps the alarm for the heartbeat (doorAlarmRaised).
func (b *consoleBackend) SetDoorAlarm(on bool) { b.w.doorAlarm.Store(on) }

func (b *consoleBackend) Config(asJSON bool) ([]byte, error) {
	if !asJSON {
		return b.w.cfg.MarshalRedacted()
	}
	raw, err := b.w.cfg.MarshalRedactedJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (b *consoleBackend) AuditTail(ctx context.Context, n int) ([]kiosk.AuditEntry, error) {
	l, err := b.led()
	if err != nil {
		return nil, err
	}
	return l.AuditTail(ctx, n)
}

func (b *consoleBackend) Audit(ctx context.Context, e kiosk.AuditEntry) error {
	countConsoleAudit(b.w.metrics, e)
	l, err := b.led()
	if err != nil {
		return err
	}
	return l.Audit(ctx, e)
}

func (b *consoleBackend) Setting(ctx context.Context, key string) (string, bool, error) {
	l, err := b.led()
	if err != nil {
		return "", false, err
	}
	return l.Setting(ctx, key)
}

func (b *consoleBackend) SetSetting(ctx context.Context, key, value string) error {
	l, err := b.led()
	if err != nil {
		return err
	}
	return l.SetSetting(ctx, key, value)
}
