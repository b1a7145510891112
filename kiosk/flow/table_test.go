package flow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// A setup puts a started rig in one state; the table below then applies
// one input and checks where the kiosk went and what a customer, the
// acceptor or the ledger would notice.
type setup struct {
	name    string
	state   kiosk.State
	prepare func(r *rig)
	// timeout is the state's own timer; the "timer" input advances the
	// clock by it.
	timeout time.Duration
}

var setups = []setup{
	{"idle", kiosk.StateIdle, func(r *rig) {}, 10 * time.Minute},
	{"select_service", kiosk.StateSelectService, func(r *rig) { r.key("0") }, DefaultPhoneTimeout},
	{"enter_receipt", kiosk.StateEnterReceipt, func(r *rig) { r.key("0", "2", "12") }, DefaultPhoneTimeout},
	{"receipt_status", kiosk.StateReceiptStatus, func(r *rig) { r.key("0", "2", "12", "OK") }, DefaultReceiptTimeout},
	{"enter_phone", kiosk.StateEnterPhone, func(r *rig) { r.key("OK", "70112345") }, DefaultPhoneTimeout},
	{"lookup", kiosk.StateLookup, func(r *rig) {
		r.wal.Block()
		r.key("OK", "7011234567", "OK")
	}, DefaultLookupTimeout},
	{"confirm", kiosk.StateConfirm, func(r *rig) { r.toConfirm() }, DefaultPhoneTimeout},
	{"confirm_offline", kiosk.StateConfirmOffline, func(r *rig) {
		r.wal.Default(kiosk.Wallet{}, kiosk.ErrBankUnavailable)
		r.key("OK", "7011234567", "OK")
	}, DefaultPhoneTimeout},
	{"insert_cash/empty", kiosk.StateInsertCash, func(r *rig) { r.toInsert() }, DefaultInsertTimeout},
	{"insert_cash/cash", kiosk.StateInsertCash, func(r *rig) {
		r.toInsert()
		r.feed(kiosk.Tenge(5000))
	}, DefaultInsertTimeout},
	{"completing", kiosk.StateCompleting, func(r *rig) {
		r.toInsert()
		r.feed(kiosk.Tenge(5000))
		r.acc.Escrow(kiosk.Tenge(1000)) // recorded and told to stack, not yet reported
		r.settle()
		r.key("OK")
	}, DefaultSettleWait},
	{"done", kiosk.StateDone, func(r *rig) {
		r.toInsert()
		r.feed(kiosk.Tenge(5000))
		r.key("OK")
	}, DefaultDoneTimeout},
	{"out_of_service", kiosk.StateOutOfService, func(r *rig) { r.acc.Fault(kiosk.FaultJammed); r.settle() }, 10 * time.Minute},
	{"maintenance", kiosk.StateMaintenance, func(r *rig) {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := r.f.RequestMaintenance(ctx); err != nil {
			r.t.Fatal(err)
		}
		r.settle()
	}, 10 * time.Minute},
}

// An input is one thing that can happen in any state.
type tableInput struct {
	name  string
	apply func(r *rig, s setup)
}

func keyInput(k string) tableInput {
	return tableInput{"key " + k, func(r *rig, _ setup) { r.key(k) }}
}

var inputs = func() []tableInput {
	var in []tableInput
	for d := '0'; d <= '9'; d++ {
		in = append(in, keyInput(string(d)))
	}
	in = append(in, keyInput("OK"), keyInput("CANCEL"), keyInput("BACK"), keyInput("LANG"))
	ev := func(name string, f func(a *kiosktest.FakeAcceptor)) tableInput {
		return tableInput{name, func(r *rig, _ setup) { f(r.acc); r.settle() }}
	}
	in = append(in,
		ev("ready", func(a *kiosktest.FakeAcceptor) { a.Ready() }),
		ev("power_up", func(a *kiosktest.FakeAcceptor) { a.PowerUp(kiosk.BillNowhere, 0) }),
		ev("escrow", func(a *kiosktest.FakeAcceptor) { a.Escrow(kiosk.Tenge(1000)) }),
		ev("stacked", func(a *kiosktest.FakeAcceptor) { a.Stacked(kiosk.Tenge(1000)) }),
		ev("returned", func(a *kiosktest.FakeAcceptor) { a.Returned(kiosk.Tenge(1000)) }),
		ev("rejected", func(a *kiosktest.FakeAcceptor) { a.Rejected("inhibited denomination") }),
		ev("fault", func(a *kiosktest.FakeAcceptor) { a.Fault(kiosk.FaultCassetteFull) }),
		ev("fault_cleared", func(a *kiosktest.FakeAcceptor) { a.FaultCleared() }),
		tableInput{"timer", func(r *rig, s setup) { r.advance(s.timeout) }},
		tableInput{"door_open", func(r *rig, _ setup) { r.f.SetCondition("door_open", true); r.settle() }},
		tableInput{"offline_cap", func(r *rig, _ setup) {
			r.led.SetQueue(&kiosk.QueueStats{Unsent: DefaultOfflineCount})
			r.f.QueueChanged()
			r.settle()
		}},
		tableInput{"end_maintenance", func(r *rig, _ setup) { r.f.EndMaintenance(); r.settle() }},
	)
	return in
}()

// check is what a case expects beyond the state.
type check func(t *testing.T, r *rig)

type outcome struct {
	state kiosk.State
	check check
}

// expect lists, per setup, what differs from "nothing happens": the state
// stays, no acceptor command, no ledger write.
var expect = map[string]map[string]outcome{
	"idle": {
		"key OK":        {kiosk.StateEnterPhone, screenShows("+7 (___) ___-__-__")},
		"key 0":         {kiosk.StateSelectService, screenShows("2 Статус платежа")},
		"key LANG":      {kiosk.StateIdle, langIs(kiosk.LangKK, "Әмиянды толтыру")},
		"escrow":        {kiosk.StateIdle, cmdsAre("return")},
		"stacked":       {kiosk.StateIdle, strayKept()},
		"fault":         {kiosk.StateOutOfService, screenShows("Терминал временно")},
		"timer":         {kiosk.StateIdle, nil},
		"door_open":     {kiosk.StateOutOfService, reasonsAre("door_open")},
		"offline_cap":   {kiosk.StateOutOfService, reasonsAre(ReasonOfflineCap)},
		"fault_cleared": {kiosk.StateIdle, nil},
	},
	"select_service": {
		"key 1":       {kiosk.StateEnterPhone, screenShows("+7 (___) ___-__-__")},
		"key 2":       {kiosk.StateEnterReceipt, screenShows("Номер чека:")},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateSelectService, langIs(kiosk.LangKK, "2 Төлем күйі")},
		"escrow":      {kiosk.StateSelectService, cmdsAre("return")},
		"stacked":     {kiosk.StateSelectService, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateSelectService, nil},
	},
	"enter_receipt": {
		"digit":       {kiosk.StateEnterReceipt, screenShows("12D_")},
		"key OK":      {kiosk.StateReceiptStatus, screenShows("на этом терминале")},
		"key BACK":    {kiosk.StateEnterReceipt, screenShows("1_")},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateEnterReceipt, langIs(kiosk.LangKK, "Түбіртек нөмірі:")},
		"escrow":      {kiosk.StateEnterReceipt, cmdsAre("return")},
		"stacked":     {kiosk.StateEnterReceipt, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateEnterReceipt, nil},
	},
	"receipt_status": {
		"key OK":      {kiosk.StateIdle, nil},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateReceiptStatus, langIs(kiosk.LangKK, "бұл терминалда")},
		"escrow":      {kiosk.StateReceiptStatus, cmdsAre("return")},
		"stacked":     {kiosk.StateReceiptStatus, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateReceiptStatus, nil},
	},
	"enter_phone": {
		"digit":       {kiosk.StateEnterPhone, screenShows("+7 (701) 123-45-D_")},
		"key OK":      {kiosk.StateEnterPhone, screenShows("Нужно 10 цифр")},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key BACK":    {kiosk.StateEnterPhone, screenShows("+7 (701) 123-4_-__")},
		"key LANG":    {kiosk.StateEnterPhone, langIs(kiosk.LangKK, "Нөмірді енгізіңіз:")},
		"escrow":      {kiosk.StateEnterPhone, cmdsAre("return")},
		"stacked":     {kiosk.StateEnterPhone, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateEnterPhone, reasonsAre(ReasonOfflineCap)},
	},
	"lookup": {
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateLookup, langIs(kiosk.LangKK, "Нөмір тексерілуде...")},
		"escrow":      {kiosk.StateLookup, cmdsAre("return")},
		"stacked":     {kiosk.StateLookup, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateConfirmOffline, screenShows("Банк недоступен")},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateLookup, nil},
	},
	"confirm": {
		"key OK":      {kiosk.StateInsertCash, enabledIs(kiosktest.KZTDenominations)},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateConfirm, langIs(kiosk.LangKK, "Алушы:")},
		"escrow":      {kiosk.StateConfirm, cmdsAre("return")},
		"stacked":     {kiosk.StateConfirm, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateConfirm, nil},
	},
	"confirm_offline": {
		"digit":       {kiosk.StateConfirmOffline, screenShows("+7 (D__) ___-__-__")},
		"key OK":      {kiosk.StateConfirmOffline, screenShows("Нужно 10 цифр")},
		"key CANCEL":  {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateConfirmOffline, langIs(kiosk.LangKK, "Банк қолжетімсіз")},
		"escrow":      {kiosk.StateConfirmOffline, cmdsAre("return")},
		"stacked":     {kiosk.StateConfirmOffline, strayKept()},
		"fault":       {kiosk.StateOutOfService, nil},
		"timer":       {kiosk.StateIdle, nil},
		"door_open":   {kiosk.StateOutOfService, nil},
		"offline_cap": {kiosk.StateConfirmOffline, nil},
	},
	"insert_cash/empty": {
		"key CANCEL":    {kiosk.StateIdle, all(cmdsAre("disable"), ledgerWrites(kiosktest.OpCloseSession))},
		"key LANG":      {kiosk.StateInsertCash, langIs(kiosk.LangKK, "Банкнот салыңыз")},
		"ready":         {kiosk.StateInsertCash, cmdsAre("enable")},
		"escrow":        {kiosk.StateInsertCash, all(cmdsAre("stack"), ledgerWrites(kiosktest.OpRecordEscrow))},
		"stacked":       {kiosk.StateInsertCash, all(totalIs(1000), ledgerWrites(kiosktest.OpRecordEscrow, kiosktest.OpMarkStacked))},
		"rejected":      {kiosk.StateInsertCash, screenShows("Купюра не принята")},
		"fault":         {kiosk.StateOutOfService, all(cmdsAre("disable"), ledgerWrites(kiosktest.OpCloseSession))},
		"timer":         {kiosk.StateIdle, all(cmdsAre("disable"), ledgerWrites(kiosktest.OpCloseSession))},
		"door_open":     {kiosk.StateOutOfService, all(cmdsAre("disable"), ledgerWrites(kiosktest.OpCloseSession))},
		"offline_cap":   {kiosk.StateInsertCash, reasonsAre(ReasonOfflineCap)},
		"fault_cleared": {kiosk.StateInsertCash, nil},
	},
	"insert_cash/cash": {
		"key OK":      {kiosk.StateDone, all(cmdsAre("disable"), toppedUp(5000))},
		"key CANCEL":  {kiosk.StateInsertCash, screenShows("Возврат невозможен")},
		"key LANG":    {kiosk.StateInsertCash, langIs(kiosk.LangKK, "Салынды: 5 000 ₸")},
		"ready":       {kiosk.StateInsertCash, cmdsAre("enable")},
		"escrow":      {kiosk.StateInsertCash, all(cmdsAre("stack"), ledgerWrites(kiosktest.OpRecordEscrow))},
		"stacked":     {kiosk.StateInsertCash, all(totalIs(6000), ledgerWrites(kiosktest.OpRecordEscrow, kiosktest.OpMarkStacked))},
		"rejected":    {kiosk.StateInsertCash, screenShows("Купюра не принята")},
		"fault":       {kiosk.StateDone, all(cmdsAre("disable"), toppedUp(5000))},
		"timer":       {kiosk.StateDone, all(cmdsAre("disable"), toppedUp(5000))},
		"door_open":   {kiosk.StateDone, all(cmdsAre("disable"), toppedUp(5000))},
		"offline_cap": {kiosk.StateInsertCash, nil},
	},
	"completing": {
		"key LANG":    {kiosk.StateCompleting, langIs(kiosk.LangKK, "Төлем өтуде")},
		"power_up":    {kiosk.StateDone, all(toppedUp(5000), ledgerWrites(kiosktest.OpRecover))},
		"escrow":      {kiosk.StateCompleting, cmdsAre("return")},
		"stacked":     {kiosk.StateDone, all(toppedUp(6000), ledgerWrites(kiosktest.OpMarkStacked, kiosktest.OpCompleteTopUp))},
		"returned":    {kiosk.StateDone, all(toppedUp(5000), ledgerWrites(kiosktest.OpMarkReturned, kiosktest.OpCompleteTopUp))},
		"timer":       {kiosk.StateOutOfService, all(reasonsAre(ReasonUnsettled), screenShows("Ваш платёж сохранён"))},
		"offline_cap": {kiosk.StateCompleting, nil},
		"door_open":   {kiosk.StateCompleting, nil},
		"fault":       {kiosk.StateCompleting, nil},
	},
	"done": {
		"key OK":      {kiosk.StateIdle, nil},
		"key LANG":    {kiosk.StateDone, langIs(kiosk.LangKK, "Төленді: 5 000 ₸")},
		"escrow":      {kiosk.StateDone, cmdsAre("return")},
		"stacked":     {kiosk.StateDone, strayKept()},
		"timer":       {kiosk.StateIdle, screenShows("Пополнение кошелька")},
		"offline_cap": {kiosk.StateDone, nil},
	},
	"out_of_service": {
		"key LANG":      {kiosk.StateOutOfService, langIs(kiosk.LangKK, "Терминал уақытша")},
		"escrow":        {kiosk.StateOutOfService, cmdsAre("return")},
		"stacked":       {kiosk.StateOutOfService, strayKept()},
		"fault_cleared": {kiosk.StateIdle, nil},
	},
	"maintenance": {
		"key LANG":        {kiosk.StateMaintenance, langIs(kiosk.LangKK, "Қызмет көрсетілуде")},
		"escrow":          {kiosk.StateMaintenance, cmdsAre("return")},
		"stacked":         {kiosk.StateMaintenance, strayKept()},
		"end_maintenance": {kiosk.StateIdle, nil},
	},
}

// The states a fault, the door or the timer lead to after done: the kiosk
// shows the receipt, then goes out of service.
var afterDone = map[string]kiosk.State{
	"insert_cash/cash fault":     kiosk.StateOutOfService,
	"insert_cash/cash door_open": kiosk.StateOutOfService,
	"insert_cash/cash timer":     kiosk.StateIdle,
	"insert_cash/cash key OK":    kiosk.StateIdle,
	"completing stacked":         kiosk.StateIdle,
	"completing returned":        kiosk.StateIdle,
	"completing power_up":        kiosk.StateIdle,
	"done fault":                 kiosk.StateOutOfService,
	"done door_open":             kiosk.StateOutOfService,
	"done offline_cap":           kiosk.StateOutOfService,
}

func TestEveryStateEveryInput(t *testing.T) {
	for _, s := range setups {
		for _, in := range inputs {
			name := s.name + " " + in.name
			t.Run(strings.ReplaceAll(name, " ", "/"), func(t *testing.T) {
				r := newRig(t, Config{}).start()
				s.prepare(r)
				r.want(s.state)
				r.acc.ClearCommands()
				r.writesMark = len(r.led.WriteOps())
				in.apply(r, s)

				want, ok := expect[s.name][in.name]
				if !ok && strings.HasPrefix(in.name, "key ") && len(in.name) == 5 {
					want, ok = expect[s.name]["digit"]
					if ok && want.check != nil {
						d := in.name[4:]
						want.check = digitCheck(want.check, d)
					}
				}
				if !ok {
					// Nothing happens: same state, no command, no write.
					want = outcome{s.state, all(cmdsAre(), ledgerWrites())}
				}
				r.want(want.state)
				if want.check != nil {
					want.check(t, r)
				}

				// A receipt screen leaves for idle (or out of service when a
				// reason stands) after its 10 s.
				if r.state() == kiosk.StateDone {
					r.advance(DefaultDoneTimeout)
					wantAfter, ok := afterDone[name]
					if !ok {
						wantAfter = kiosk.StateIdle
					}
					r.want(wantAfter)
				}
			})
		}
	}
}

func all(cs ...check) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		for _, c := range cs {
			c(t, r)
		}
	}
}

func screenShows(s string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		r.wantLine(s)
	}
}

// digitCheck checks that the digit pressed (the D of the table's line)
// appears in the number's template.
func digitCheck(_ check, d string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		switch r.state() {
		case kiosk.StateEnterPhone:
			r.wantLine("+7 (701) 123-45-" + d + "_")
		case kiosk.StateConfirmOffline:
			r.wantLine("+7 (" + d + "__) ___-__-__")
		}
	}
}

func langIs(l kiosk.Lang, line string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := r.f.Status().Lang; got != l {
			t.Errorf("language %s, want %s", got, l)
		}
		r.wantLine(line)
	}
}

func cmdsAre(ops ...string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := r.ops(); !slices.Equal(got, ops) {
			t.Errorf("acceptor commands %v, want %v", got, ops)
		}
	}
}

func enabledIs(set []kiosk.Money) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		if got := r.enabledSet(); !slices.Equal(got, set) {
			t.Errorf("enabled %v, want %v", got, set)
		}
	}
}

func reasonsAre(reasons ...string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		got := r.f.Status().Reasons
		for _, want := range reasons {
			if !slices.Contains(got, want) {
				t.Errorf("reasons %v, want %s among them", got, want)
			}
		}
	}
}

func totalIs(tenge int64) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		st := r.f.Status()
		if st.Session == nil || st.Session.Total != kiosk.Tenge(tenge) {
			t.Errorf("session %+v, want total %d ₸", st.Session, tenge)
		}
	}
}

func toppedUp(tenge int64) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		tops := r.led.TopUps()
		if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(tenge) {
			t.Errorf("top-ups %+v, want one of %d ₸", tops, tenge)
		}
		r.wantLine(fmt.Sprintf("Оплачено: %s", kiosk.Tenge(tenge)))
	}
}

// strayKept checks that a bill stacked with no session open went into the
// ledger's suspense (and the audit), so the cassette's money is not lost.
func strayKept() check {
	return all(audited("suspense_bill"), func(t *testing.T, r *rig) {
		t.Helper()
		for _, b := range r.led.Bills() {
			if b.State == kiosk.BillSuspense {
				return
			}
		}
		t.Errorf("no suspense bill in the ledger: %+v", r.led.Bills())
	})
}

func audited(action string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		for _, e := range r.led.AuditEntries() {
			if e.Action == action {
				return
			}
		}
		t.Errorf("no %q audit line in %+v", action, r.led.AuditEntries())
	}
}

// ledgerWrites checks the ledger writes the input caused, in order.
func ledgerWrites(ops ...string) check {
	return func(t *testing.T, r *rig) {
		t.Helper()
		got := r.led.WriteOps()
		if n := r.writesMark; n <= len(got) {
			got = got[n:]
		}
		if !slices.Equal(got, ops) {
			t.Errorf("ledger writes %v, want %v", got, ops)
		}
	}
}
