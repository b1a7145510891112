package flow

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

func TestHappyPath(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.wantLine("Пополнение кошелька")
	r.key("OK")
	r.want(kiosk.StateEnterPhone)
	r.wantLine("+7 (___) ___-__-__")
	r.key("701123")
	r.wantLine("+7 (701) 123-__-__")
	r.key("4567", "OK")
	r.want(kiosk.StateConfirm)
	r.wantLine("Нурлан К.")
	r.wantLine("+7 (701) 123-45-67")
	if got := r.wal.Calls(); !slices.Equal(got, []kiosk.Phone{"+77011234567"}) {
		t.Fatalf("lookups %v", got)
	}

	r.key("OK")
	r.want(kiosk.StateInsertCash)
	if got := r.enabledSet(); !slices.Equal(got, kiosktest.KZTDenominations) {
		t.Fatalf("enabled %v, want every denomination", got)
	}
	r.wantLine("Внесено: 0 ₸")
	r.wantLine("Максимум: 200 000 ₸")

	r.feed(kiosk.Tenge(5000), kiosk.Tenge(2000))
	r.wantLine("Внесено: 7 000 ₸")
	st := r.f.Status()
	if st.Session == nil || st.Session.Total != kiosk.Tenge(7000) || st.Session.Phone != "+7701***4567" {
		t.Fatalf("session status %+v", st.Session)
	}

	r.key("OK")
	r.want(kiosk.StateDone)
	r.wantLine("Оплачено: 7 000 ₸")
	r.wantLine("Чек № 1")
	r.wantLine("зачислим за 30 мин")
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(7000) || tops[0].Phone != "+77011234567" || tops[0].Offline {
		t.Fatalf("top-ups %+v", tops)
	}
	want := []string{
		kiosktest.OpOpenSession,
		kiosktest.OpRecordEscrow, kiosktest.OpMarkStacked,
		kiosktest.OpRecordEscrow, kiosktest.OpMarkStacked,
		kiosktest.OpCompleteTopUp,
	}
	if got := r.led.WriteOps(); !slices.Equal(got, want) {
		t.Fatalf("ledger writes %v, want %v", got, want)
	}
	bills := r.led.Bills()
	if len(bills) != 2 || bills[0].Seq != 1 || bills[1].Seq != 2 || bills[0].SessionID != "s1" {
		t.Fatalf("bills %+v, want seq 1 and 2 of session s1", bills)
	}

	r.advance(DefaultDoneTimeout)
	r.want(kiosk.StateIdle)
	if st := r.f.Status(); st.Session != nil || st.LastTopUp == nil || st.LastTopUp.ReceiptNo != 1 {
		t.Fatalf("after done: %+v", st)
	}
}

func TestLanguageCyclesAndResetsAfterCustomer(t *testing.T) {
	r := newRig(t, Config{}).start()
	for _, want := range []string{"Әмиянды толтыру", "Top up your wallet", "Пополнение кошелька", "Әмиянды толтыру"} {
		r.key("LANG")
		r.wantLine(want)
	}
	r.toConfirm()
	r.wantLine("Алушы:")
	r.key("CANCEL")
	r.want(kiosk.StateIdle)
	r.wantLine("Пополнение кошелька")
}

func TestMaximumAmount(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	for range 9 {
		r.feed(kiosk.Tenge(20000))
	}
	r.wantLine("Внесено: 180 000 ₸")
	if got := r.enabledSet(); !slices.Equal(got, kiosktest.KZTDenominations) {
		t.Fatalf("at 180 000 ₸ enabled %v, want all (20 000 ₸ still fits)", got)
	}
	r.feed(kiosk.Tenge(10000))
	if got, want := r.enabledSet(), tenge(200, 500, 1000, 2000, 5000, 10000); !slices.Equal(got, want) {
		t.Fatalf("at 190 000 ₸ enabled %v, want %v", got, want)
	}

	// A bill over the maximum is returned, never recorded.
	writes := len(r.led.WriteOps())
	r.acc.ClearCommands()
	r.acc.Escrow(kiosk.Tenge(20000))
	r.settle()
	if got := r.ops(); !slices.Equal(got, []string{"return"}) {
		t.Fatalf("commands %v, want return", got)
	}
	if got := r.led.WriteOps()[writes:]; len(got) != 0 {
		t.Fatalf("a returned bill was written: %v", got)
	}
	r.wantLine("Сверх максимума")
	r.acc.Returned(kiosk.Tenge(20000))
	r.settle()

	r.feed(kiosk.Tenge(5000))
	if got, want := r.enabledSet(), tenge(200, 500, 1000, 2000, 5000); !slices.Equal(got, want) {
		t.Fatalf("at 195 000 ₸ enabled %v, want %v", got, want)
	}
	// A bill still stacking counts: a second one behind it that would pass
	// the maximum is returned.
	r.acc.Escrow(kiosk.Tenge(5000))
	r.settle()
	r.acc.Escrow(kiosk.Tenge(200))
	r.settle()
	if c := r.lastCmd(); c.Op != "return" || c.Value != kiosk.Tenge(200) {
		t.Fatalf("last command %v, want return of the 200 ₸ bill", c)
	}
	r.acc.Stacked(kiosk.Tenge(5000))
	r.settle()

	// Reaching the maximum disables the acceptor and asks for PAY.
	r.want(kiosk.StateInsertCash)
	if on, _ := r.acc.Enabled(); on {
		t.Fatal("acceptor enabled at the maximum")
	}
	r.wantLine("Максимум внесён")
	r.wantLine("Нажмите OK - оплата")
	r.wantLine("Внесено: 200 000 ₸")
	r.key("LANG")
	r.wantLine("Салынды: 200 000 ₸")
	r.key("LANG")
	r.wantLine("Inserted: 200 000 ₸")
	r.key("OK")
	r.want(kiosk.StateDone)
	r.wantLine("Paid: 200 000 ₸")
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(200000) {
		t.Fatalf("top-ups %+v", tops)
	}
}

func TestRecordBeforeStack(t *testing.T) {
	r := newRig(t, Config{}).start()
	var atStack []string
	r.acc.CheckStack(func(v kiosk.Money) error {
		ops := r.led.Ops()
		atStack = append(atStack, ops[len(ops)-1])
		if !r.led.HasEscrowed(v) {
			return errors.New("not recorded")
		}
		return nil
	})
	r.toInsert()
	r.feed(kiosk.Tenge(1000), kiosk.Tenge(500), kiosk.Tenge(20000))
	if want := []string{"RecordEscrow", "RecordEscrow", "RecordEscrow"}; !slices.Equal(atStack, want) {
		t.Fatalf("ledger's last call when STACK was sent: %v, want %v", atStack, want)
	}
	for _, b := range r.led.Bills() {
		if b.State != kiosk.BillStacked {
			t.Errorf("bill %s is %s, want stacked", b.ID, b.State)
		}
	}
}

func TestLedgerFailsAtRecordEscrow(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.led.Fail(kiosktest.OpRecordEscrow)
	r.acc.ClearCommands()
	r.acc.Escrow(kiosk.Tenge(5000))
	r.settle()
	if got, want := r.ops(), []string{"disable", "return"}; !slices.Equal(got, want) {
		t.Fatalf("commands %v, want %v (disable first, then the bill back)", got, want)
	}
	r.want(kiosk.StateOutOfService)
	if st := r.f.Status(); !slices.Contains(st.Reasons, ReasonLedger) || st.Session != nil {
		t.Fatalf("status %+v, want reason ledger and the empty session closed", st)
	}
	if s := r.led.Sessions(); len(s) != 1 || !s[0].Closed {
		t.Fatalf("sessions %+v, want the empty one closed", s)
	}

	// The probe keeps failing while the disk does.
	r.led.Fail()
	r.advance(probeEvery)
	r.want(kiosk.StateOutOfService)
	r.led.Heal()
	r.advance(probeEvery)
	r.want(kiosk.StateIdle)
	found := false
	for _, e := range r.led.AuditEntries() {
		found = found || e.Action == "ledger_probe"
	}
	if !found {
		t.Fatal("no probe line in the audit table")
	}
}

func TestLedgerFailsWithMoneyInSession(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(5000))
	r.led.Fail() // the disk is gone
	r.acc.Escrow(kiosk.Tenge(1000))
	r.settle()
	r.want(kiosk.StateOutOfService)
	r.wantLine("Ваш платёж сохранён")
	st := r.f.Status()
	if !slices.Contains(st.Reasons, ReasonLedger) || !slices.Contains(st.Reasons, ReasonUnsettled) {
		t.Fatalf("reasons %v", st.Reasons)
	}
	if st.Session == nil || st.Session.Total != kiosk.Tenge(5000) {
		t.Fatalf("session %+v, want it kept with 5 000 ₸", st.Session)
	}
	r.advance(probeEvery)
	r.want(kiosk.StateOutOfService)

	r.led.Heal()
	r.advance(probeEvery)
	r.want(kiosk.StateIdle)
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(5000) {
		t.Fatalf("top-ups %+v, want the 5 000 ₸ committed once the ledger works", tops)
	}
}

func TestLedgerFailsAtMarkStacked(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(2000))
	r.led.Fail(kiosktest.OpMarkStacked)
	r.acc.Escrow(kiosk.Tenge(5000))
	r.settle()
	r.acc.Stacked(kiosk.Tenge(5000))
	r.settle()
	// The bill is in the cassette: it counts, and the session waits for the
	// mark to be written before it is committed.
	r.want(kiosk.StateOutOfService)
	r.led.Heal()
	r.advance(probeEvery)
	r.want(kiosk.StateIdle)
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(7000) {
		t.Fatalf("top-ups %+v, want 7 000 ₸", tops)
	}
}

func TestLedgerFailsAtOpenSession(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toConfirm()
	r.led.Fail(kiosktest.OpOpenSession)
	r.key("OK")
	r.want(kiosk.StateOutOfService)
	if on, _ := r.acc.Enabled(); on {
		t.Fatal("acceptor enabled without a session")
	}
}

func TestFaultMidSessionWithMoney(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(10000))
	r.acc.ClearCommands()
	r.acc.Fault(kiosk.FaultJammed)
	r.settle()
	if got := r.ops(); len(got) == 0 || got[0] != "disable" {
		t.Fatalf("commands %v, want disable first", got)
	}
	r.want(kiosk.StateDone)
	r.wantLine("Оплачено: 10 000 ₸")
	r.key("OK")
	r.want(kiosk.StateOutOfService)
	if st := r.f.Status(); st.Fault != kiosk.FaultJammed {
		t.Fatalf("fault %q", st.Fault)
	}
	r.acc.FaultCleared()
	r.settle()
	r.want(kiosk.StateIdle)
}

func TestFaultWithBillStackingWaitsForIt(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(1000))
	r.acc.Escrow(kiosk.Tenge(5000))
	r.settle()
	r.acc.Fault(kiosk.FaultCassetteFull)
	r.settle()
	r.want(kiosk.StateCompleting)
	r.wantLine("Подождите...")
	// A bill in escrow now is returned: the session is closing.
	r.acc.Escrow(kiosk.Tenge(200))
	r.settle()
	if c := r.lastCmd(); c.Op != "return" {
		t.Fatalf("last command %v, want return", c)
	}
	r.acc.Stacked(kiosk.Tenge(5000))
	r.settle()
	r.want(kiosk.StateDone)
	r.wantLine("Оплачено: 6 000 ₸")
	r.advance(DefaultDoneTimeout)
	r.want(kiosk.StateOutOfService)
}

func TestFaultWithoutMoney(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.acc.Fault(kiosk.FaultCassetteRemoved)
	r.settle()
	r.want(kiosk.StateOutOfService)
	if s := r.led.Sessions(); len(s) != 1 || !s[0].Closed || s[0].TopUp != nil {
		t.Fatalf("sessions %+v, want one closed without a top-up", s)
	}
}

func TestCancelWithCashIsRefused(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(500))
	r.key("CANCEL")
	r.want(kiosk.StateInsertCash)
	r.wantLine("Возврат невозможен")
	r.wantLine("Нажмите OK - оплата")
	r.advance(noticeFor)
	r.wantNoLine("Возврат невозможен")
	r.key("OK")
	r.want(kiosk.StateDone)
}

func TestOfflineDoubleEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second string
		want   kiosk.State
	}{
		{"match", "7771234567", kiosk.StateInsertCash},
		{"mismatch", "7771234568", kiosk.StateEnterPhone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{}).start()
			r.wal.Default(kiosk.Wallet{}, kiosk.ErrBankUnavailable)
			r.key("OK", "7771234567", "OK")
			r.want(kiosk.StateConfirmOffline)
			r.wantLine("Банк недоступен")
			r.wantLine("Введите номер снова")
			r.wantLine("+7 (___) ___-__-__")
			r.key(tc.second, "OK")
			r.want(tc.want)
			if tc.want == kiosk.StateEnterPhone {
				r.wantLine("Номера не совпали")
				r.wantLine("+7 (___) ___-__-__")
				if s := r.led.Sessions(); len(s) != 0 {
					t.Fatalf("sessions %+v, want none", s)
				}
				return
			}
			if st := r.f.Status(); st.Session == nil || !st.Session.Offline {
				t.Fatalf("session %+v, want offline", st.Session)
			}
			r.feed(kiosk.Tenge(1000))
			r.key("OK")
			r.want(kiosk.StateDone)
			if tops := r.led.TopUps(); len(tops) != 1 || !tops[0].Offline || tops[0].Phone != "+77771234567" {
				t.Fatalf("top-ups %+v, want one offline", tops)
			}
		})
	}
}

func TestLookupTimeout(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.wal.Block()
	r.key("OK", "7011234567", "OK")
	r.want(kiosk.StateLookup)
	r.wantLine("Проверка номера...")
	r.advance(DefaultLookupTimeout - time.Millisecond)
	r.want(kiosk.StateLookup)
	r.advance(time.Millisecond)
	r.want(kiosk.StateConfirmOffline)
	// The bank's late answer changes nothing.
	r.wal.Release()
	r.settle()
	r.want(kiosk.StateConfirmOffline)
}

func TestLookupAnswers(t *testing.T) {
	t.Run("not found", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.wal.Default(kiosk.Wallet{Found: false}, nil)
		r.key("OK", "7011234567", "OK")
		r.want(kiosk.StateEnterPhone)
		r.wantLine("Кошелёк не найден")
		r.wantLine("+7 (701) 123-45-67") // kept, to fix a typo with BACK
		r.key("BACK")
		r.wantNoLine("Кошелёк не найден")
		r.wantLine("+7 (701) 123-45-6_")
	})
	t.Run("bank error", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.wal.Default(kiosk.Wallet{}, errors.New("503 Service Unavailable"))
		r.key("OK", "7011234567", "OK")
		r.want(kiosk.StateConfirmOffline)
	})
	t.Run("long name is cut to the line", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.wal.Default(kiosk.Wallet{Found: true, Name: "Абдурахмангаджиева Гүлнәр\nН."}, nil)
		r.toConfirm()
		r.wantLine("Абдурахмангаджиева Г")
	})
	t.Run("invalid prefix never reaches the bank", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.key("OK", "7271234567", "OK")
		r.want(kiosk.StateEnterPhone)
		r.wantLine("Неверный номер")
		if calls := r.wal.Calls(); len(calls) != 0 {
			t.Fatalf("bank asked about %v", calls)
		}
	})
	t.Run("configured prefixes", func(t *testing.T) {
		r := newRig(t, Config{PhonePrefixes: []int{727}}).start()
		r.key("OK", "7271234567", "OK")
		r.want(kiosk.StateConfirm)
	})
	t.Run("eleven digits are not taken", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.key("OK", "70112345678")
		r.wantLine("+7 (701) 123-45-67")
	})
}

func TestPhoneEntryTimesOut(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.key("OK", "701")
	r.advance(50 * time.Second)
	r.key("1") // a key starts the 60 s again
	r.advance(50 * time.Second)
	r.want(kiosk.StateEnterPhone)
	r.advance(10 * time.Second)
	r.want(kiosk.StateIdle)
}

func TestAutoComplete(t *testing.T) {
	t.Run("with cash", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.toInsert()
		r.feed(kiosk.Tenge(2000))
		r.advance(60 * time.Second)
		r.key("LANG") // a customer still there
		r.advance(89 * time.Second)
		r.want(kiosk.StateInsertCash)
		r.advance(time.Second)
		r.want(kiosk.StateDone)
		if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(2000) {
			t.Fatalf("top-ups %+v", tops)
		}
		r.advance(DefaultDoneTimeout)
		r.want(kiosk.StateIdle)
	})
	t.Run("a bill is activity too", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.toInsert()
		r.advance(80 * time.Second)
		r.feed(kiosk.Tenge(500))
		r.advance(80 * time.Second)
		r.want(kiosk.StateInsertCash)
	})
	t.Run("without cash", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.toInsert()
		r.advance(DefaultInsertTimeout)
		r.want(kiosk.StateIdle)
		if s := r.led.Sessions(); len(s) != 1 || !s[0].Closed || s[0].TopUp != nil {
			t.Fatalf("sessions %+v, want one closed without money", s)
		}
	})
}

func TestOfflineCaps(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		r := newRig(t, Config{OfflineMaxCount: 2}).start()
		for i := range 2 {
			r.toInsert()
			r.feed(kiosk.Tenge(1000))
			r.key("OK")
			r.want(kiosk.StateDone) // the customer sees the receipt either way
			r.key("OK")
			if i == 0 {
				r.want(kiosk.StateIdle)
			}
		}
		r.want(kiosk.StateOutOfService)
		if st := r.f.Status(); !slices.Equal(st.Reasons, []string{ReasonOfflineCap}) {
			t.Fatalf("reasons %v", st.Reasons)
		}
		// The outbox delivers one: below the cap again.
		r.led.SetSync(r.led.TopUps()[0].ID, kiosk.SyncPending)
		r.f.QueueChanged()
		r.settle()
		r.want(kiosk.StateIdle)
	})
	t.Run("amount", func(t *testing.T) {
		r := newRig(t, Config{OfflineMaxAmount: kiosk.Tenge(50000)}).start()
		r.led.SetQueue(&kiosk.QueueStats{Unsent: 3, UnsentAmount: kiosk.Tenge(50000)})
		r.f.QueueChanged()
		r.settle()
		r.want(kiosk.StateOutOfService)
		r.led.SetQueue(&kiosk.QueueStats{Unsent: 2, UnsentAmount: kiosk.Tenge(49999)})
		r.f.QueueChanged()
		r.settle()
		r.want(kiosk.StateIdle)
	})
	t.Run("waits for the customer", func(t *testing.T) {
		r := newRig(t, Config{}).start()
		r.toInsert()
		r.led.SetQueue(&kiosk.QueueStats{Unsent: 500})
		r.f.QueueChanged()
		r.settle()
		r.want(kiosk.StateInsertCash)
		r.feed(kiosk.Tenge(1000))
		r.key("OK")
		r.want(kiosk.StateDone)
		r.key("OK")
		r.want(kiosk.StateOutOfService)
	})
	t.Run("at start", func(t *testing.T) {
		r := newRig(t, Config{})
		r.led.SetQueue(&kiosk.QueueStats{Unsent: 500})
		r.run()
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateOutOfService)
	})
}

func TestMaintenanceWaitsForCustomer(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(1000))
	granted := make(chan error, 1)
	go func() { granted <- r.f.RequestMaintenance(context.Background()) }()
	// The request is seen by the loop, but the customer goes on.
	waitFor(t, func() bool { return r.f.Status().Maintenance })
	r.settle()
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(500))
	r.key("OK")
	r.want(kiosk.StateDone)
	select {
	case err := <-granted:
		t.Fatalf("maintenance granted mid-session (%v)", err)
	default:
	}
	r.advance(DefaultDoneTimeout)
	r.want(kiosk.StateMaintenance)
	r.wantLine("Идёт обслуживание")
	select {
	case err := <-granted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("maintenance not granted after the customer left")
	}
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(1500) {
		t.Fatalf("top-ups %+v", tops)
	}
	r.f.EndMaintenance()
	r.settle()
	r.want(kiosk.StateIdle)
}

func TestMaintenanceRequestWithdrawn(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.key("OK")
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- r.f.RequestMaintenance(ctx) }()
	waitFor(t, func() bool { return r.f.Status().Maintenance })
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("RequestMaintenance = %v, want context.Canceled", err)
	}
	r.key("CANCEL")
	r.want(kiosk.StateIdle)
}

func TestMaintenanceFromOutOfService(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.acc.Fault(kiosk.FaultJammed)
	r.settle()
	if err := r.f.RequestMaintenance(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	r.want(kiosk.StateMaintenance)
	r.f.EndMaintenance()
	r.settle()
	r.want(kiosk.StateOutOfService) // the fault still stands
}

// waitFor polls a condition that another goroutine makes true; it is for
// the few places where that goroutine is not the flow's loop.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// openLeftover leaves in the ledger what a power cut mid-session leaves: a
// session with a stacked 5 000 ₸ and a 2 000 ₸ bill recorded as about to be
// stacked.
func openLeftover(t *testing.T, l *kiosktest.FakeLedger, at time.Time) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.OpenSession(ctx, kiosk.Session{ID: "old", Phone: "+77051112233", OpenedAt: at}))
	must(l.RecordEscrow(ctx, kiosk.BillRecord{ID: "old-1", SessionID: "old", Seq: 1, Value: kiosk.Tenge(5000), At: at}))
	must(l.MarkStacked(ctx, "old-1", at))
	must(l.RecordEscrow(ctx, kiosk.BillRecord{ID: "old-2", SessionID: "old", Seq: 2, Value: kiosk.Tenge(2000), At: at}))
}

func TestRecoveryAtStart(t *testing.T) {
	t.Run("with power-up report", func(t *testing.T) {
		r := newRig(t, Config{})
		openLeftover(t, r.led, r.clock.Now())
		r.run()
		r.want(kiosk.StateOutOfService)
		r.wantLine("Запуск...")
		r.acc.PowerUp(kiosk.BillInStacker, kiosk.Tenge(2000))
		r.settle()
		r.want(kiosk.StateOutOfService) // until the acceptor is ready
		reps := r.led.Recovers()
		if len(reps) != 1 || reps[0] == nil || reps[0].BillAt != kiosk.BillInStacker || reps[0].Value != kiosk.Tenge(2000) {
			t.Fatalf("Recover calls %+v", reps)
		}
		tops := r.led.TopUps()
		if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(7000) || !tops[0].Recovered {
			t.Fatalf("top-ups %+v, want the recovered 7 000 ₸", tops)
		}
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateIdle)
		if st := r.f.Status(); st.LastTopUp == nil || st.LastTopUp.Amount != kiosk.Tenge(7000) {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("without report", func(t *testing.T) {
		r := newRig(t, Config{})
		openLeftover(t, r.led, r.clock.Now())
		r.run()
		r.advance(DefaultRecoveryWait - time.Second)
		if n := len(r.led.Recovers()); n != 0 {
			t.Fatalf("recovered before the wait was over")
		}
		r.advance(time.Second)
		if reps := r.led.Recovers(); len(reps) != 1 || reps[0] != nil {
			t.Fatalf("Recover calls %+v, want one without a report", reps)
		}
		tops := r.led.TopUps()
		if len(tops) != 1 || tops[0].Amount != kiosk.Tenge(5000) {
			t.Fatalf("top-ups %+v, want 5 000 ₸ (the escrowed bill uncertain)", tops)
		}
		r.want(kiosk.StateOutOfService)
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateIdle)
	})
	t.Run("ready without power-up", func(t *testing.T) {
		r := newRig(t, Config{})
		openLeftover(t, r.led, r.clock.Now())
		r.run()
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateIdle)
		if reps := r.led.Recovers(); len(reps) != 1 || reps[0] != nil {
			t.Fatalf("Recover calls %+v", reps)
		}
	})
	t.Run("nothing to recover", func(t *testing.T) {
		r := newRig(t, Config{})
		r.run()
		r.want(kiosk.StateOutOfService)
		r.acc.PowerUp(kiosk.BillNowhere, 0)
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateIdle)
		if reps := r.led.Recovers(); len(reps) != 0 {
			t.Fatalf("Recover calls %+v, want none", reps)
		}
	})
	t.Run("ledger fails at recovery", func(t *testing.T) {
		r := newRig(t, Config{})
		openLeftover(t, r.led, r.clock.Now())
		r.led.Fail(kiosktest.OpRecover)
		r.run()
		r.acc.PowerUp(kiosk.BillInStacker, kiosk.Tenge(2000))
		r.acc.Ready()
		r.settle()
		r.want(kiosk.StateOutOfService)
		r.led.Heal()
		r.advance(probeEvery)
		r.want(kiosk.StateIdle)
		if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(7000) {
			t.Fatalf("top-ups %+v, want 7 000 ₸ with the report kept for the retry", tops)
		}
	})
}

func TestAcceptorRestartsWithBillInFlight(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(1000))
	r.acc.Escrow(kiosk.Tenge(2000))
	r.settle()
	r.acc.PowerUp(kiosk.BillInStacker, kiosk.Tenge(2000))
	r.settle()
	r.want(kiosk.StateDone)
	r.wantLine("Оплачено: 3 000 ₸")
	r.acc.Ready()
	r.settle()
	r.advance(DefaultDoneTimeout)
	r.want(kiosk.StateIdle)
}

func TestStuckBillSettledLater(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(1000))
	r.acc.Escrow(kiosk.Tenge(5000))
	r.settle()
	r.key("OK")
	r.want(kiosk.StateCompleting)
	r.advance(DefaultSettleWait)
	r.want(kiosk.StateOutOfService)
	r.wantLine("Ваш платёж сохранён")
	// The device finally reports the bill: the session is committed whole.
	r.acc.Stacked(kiosk.Tenge(5000))
	r.settle()
	r.want(kiosk.StateIdle)
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(6000) {
		t.Fatalf("top-ups %+v", tops)
	}
}

func TestStackCommandFails(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.acc.Fail(kiosktest.OpStack, kiosk.ErrAcceptorOffline)
	r.acc.Escrow(kiosk.Tenge(1000))
	r.settle()
	// Recorded, never stacked: the device gives it back after its escrow
	// timeout, and the record says so.
	r.acc.Returned(kiosk.Tenge(1000))
	r.settle()
	bills := r.led.Bills()
	if len(bills) != 1 || bills[0].State != kiosk.BillReturned {
		t.Fatalf("bills %+v, want one returned", bills)
	}
	r.want(kiosk.StateInsertCash)
	r.key("CANCEL")
	r.want(kiosk.StateIdle)
}

func TestEnableFails(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toConfirm()
	r.acc.Fail(kiosktest.OpEnable, kiosk.ErrAcceptorOffline)
	r.key("OK")
	r.want(kiosk.StateOutOfService)
	if s := r.led.Sessions(); len(s) != 1 || !s[0].Closed {
		t.Fatalf("sessions %+v", s)
	}
	r.acc.Fail(kiosktest.OpEnable, nil)
	r.acc.Ready()
	r.settle()
	r.want(kiosk.StateIdle)
}

func TestConditions(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.f.SetCondition(ConditionManual, true)
	r.settle()
	r.want(kiosk.StateOutOfService)
	if st := r.f.Status(); !st.Manual || !slices.Contains(st.Reasons, ConditionManual) {
		t.Fatalf("status %+v", st)
	}
	r.f.SetCondition("door_open", true)
	r.f.SetCondition(ConditionManual, false)
	r.settle()
	r.want(kiosk.StateOutOfService)
	r.f.SetCondition("door_open", false)
	r.settle()
	r.want(kiosk.StateIdle)
	// A condition cannot clear the flow's own reasons.
	r.f.SetCondition(ReasonLedger, true)
	r.settle()
	r.want(kiosk.StateIdle)
}

func TestAcceptorDriverCloses(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.acc.Close()
	r.settle()
	r.want(kiosk.StateOutOfService)
}

func TestStoppingDisablesAcceptor(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.shutdown()
	if on, _ := r.acc.Enabled(); on {
		t.Fatal("acceptor enabled after Run returned")
	}
	if r.light.On() {
		t.Fatal("light on after Run returned")
	}
}

func TestSubscribe(t *testing.T) {
	r := newRig(t, Config{}).start()
	ch, cancel := r.f.Subscribe()
	first := <-ch
	if first.State != kiosk.StateIdle {
		t.Fatalf("first screen %+v, want the current one", first)
	}
	r.key("OK")
	if s := <-ch; s.State != kiosk.StateEnterPhone || s.Lines[1] != "+7 (___) ___-__-__" {
		t.Fatalf("screen %+v", s)
	}
	cancel()
	cancel()
	r.key("CANCEL")
	if _, ok := <-ch; ok {
		t.Fatal("screen after cancel")
	}
}

func TestKeysBeyondQueueAreDropped(t *testing.T) {
	f := New(Config{}, Deps{})
	for range keyQueue + 10 {
		f.Key("1")
	}
	if n := len(f.keys); n != keyQueue {
		t.Fatalf("%d keys queued, want %d", n, keyQueue)
	}
}

func TestRunChecksDeps(t *testing.T) {
	if err := New(Config{}, Deps{}).Run(context.Background()); err == nil {
		t.Fatal("Run without deps succeeded")
	}
}

func TestStatusJSON(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.feed(kiosk.Tenge(1000))
	b, err := json.Marshal(r.f.Status())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"state":"insert_cash"`, `"lang":"ru"`, `"phone":"+7701***4567"`, `"total":100000`} {
		if !strings.Contains(s, want) {
			t.Errorf("status JSON %s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "+77011234567") {
		t.Errorf("status JSON shows the full number: %s", s)
	}
}

func TestLookupGoroutineEndsWithRun(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.wal.Block()
	r.key("OK", "7011234567", "OK")
	info, ok := r.f.barrier()
	if !ok || info.lookup == nil {
		t.Fatal("no lookup in flight")
	}
	r.shutdown()
	select {
	case <-info.lookup:
	case <-time.After(waitLimit):
		t.Fatal("lookup goroutine still running after Run returned")
	}
}
