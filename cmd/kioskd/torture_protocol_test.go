package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
)

// tortureUnit is what the torture test does with an acceptor emulator: a
// customer's bill, where it is, the cassette a technician counts and
// changes, and what the unit is doing for the reports. Every protocol's
// emulator has these methods.
type tortureUnit interface {
	InsertBill(kiosk.Money) error
	BillInFlight() kiosk.BillPosition
	Cassette() map[kiosk.Money]int
	RemoveCassette()
	InsertCassette()
	Status() string
	Disarm() bool
	LinkPath() string
	Close() error
}

// aimedUnit is an emulator whose power cuts are aimed at instants of its
// own protocol.
type aimedUnit[I, C fmt.Stringer] interface {
	tortureUnit
	PowerCutAt(I, func(C))
}

// tortureAcceptor is an emulator with its instants told by their index:
// instant i of every protocol leaves the bill at the same point of its way.
type tortureAcceptor struct {
	tortureUnit
	instants []string
	cutAt    func(i int, hook func(cut string))
}

func aim[I, C fmt.Stringer](u aimedUnit[I, C], instants []I) tortureAcceptor {
	a := tortureAcceptor{tortureUnit: u}
	for _, at := range instants {
		a.instants = append(a.instants, at.String())
	}
	a.cutAt = func(i int, hook func(string)) {
		u.PowerCutAt(instants[i], func(c C) { hook(c.String()) })
	}
	return a
}

// tortureProtocol is one acceptor protocol the torture test runs over: its
// emulator and the kiosk.yaml acceptor line that drives it with the shipped
// driver. variant is drawn from the seed for every protocol alike, and
// picks, for half the runs, the other way units of that protocol go where
// its notes say they differ.
type tortureProtocol struct {
	name  string
	start func(link string, log *slog.Logger, variant bool) (unit tortureAcceptor, acceptorYAML, about string, err error)
}

// The emulators' mechanics are quick, so that hundreds of cuts fit in
// minutes, yet each step lasts long enough to be caught by a cut.
var tortureProtocols = []tortureProtocol{
	{"ccnet", func(link string, log *slog.Logger, repeat bool) (tortureAcceptor, string, string, error) {
		emu, err := ccnettest.Start(ccnettest.EmuOptions{
			Log:           log,
			LinkPath:      link,
			RepeatUnACKed: repeat, // ccnet.md A.4-6: units that repeat an unacknowledged STACKED, and units that say it once
			AcceptTime:    60 * time.Millisecond,
			StackStart:    40 * time.Millisecond,
			StackTime:     300 * time.Millisecond,
			ReturnTime:    100 * time.Millisecond,
			RejectTime:    100 * time.Millisecond,
			InitTime:      100 * time.Millisecond,
			PowerOffTime:  150 * time.Millisecond,
		})
		if err != nil {
			return tortureAcceptor{}, "", "", err
		}
		return aim(emu, ccnettest.Instants()), fmt.Sprintf("{protocol: ccnet, port: %s}", link),
			fmt.Sprintf("acceptor repeats unacknowledged events: %v", repeat), nil
	}},
	{"id003", func(link string, log *slog.Logger, vend bool) (tortureAcceptor, string, string, error) {
		emu, err := id003test.Start(id003test.EmuOptions{
			Log:              log,
			LinkPath:         link,
			VendAfterPowerUp: vend, // id003.md B.8: units that report VEND VALID for the bill found in the stacker, and units that do not
			AcceptTime:       60 * time.Millisecond,
			StackStart:       40 * time.Millisecond,
			StackTime:        300 * time.Millisecond,
			ReturnTime:       100 * time.Millisecond,
			RejectTime:       100 * time.Millisecond,
			InitTime:         100 * time.Millisecond,
			PowerOffTime:     150 * time.Millisecond,
		})
		if err != nil {
			return tortureAcceptor{}, "", "", err
		}
		// The emulator's country code is made up: pinned to tenge, as a
		// kiosk's config pins its unit's.
		return aim(emu, id003test.Instants()),
			fmt.Sprintf(`{protocol: id003, port: %s, currencies: {"0x%02X": KZT}}`, link, id003test.KZTCountry),
			fmt.Sprintf("acceptor reports VEND VALID after a power-up with a bill in the stacker: %v", vend), nil
	}},
}

// tortureProtocolsFor reads TORTURE_PROTOCOL: one protocol, or all of them
// when it is empty.
func tortureProtocolsFor(v string) ([]tortureProtocol, error) {
	if v == "" {
		return tortureProtocols, nil
	}
	var names []string
	for _, p := range tortureProtocols {
		if p.name == v {
			return []tortureProtocol{p}, nil
		}
		names = append(names, p.name)
	}
	return nil, fmt.Errorf("TORTURE_PROTOCOL=%q: want one of %s, or nothing for all", v, strings.Join(names, ", "))
}

// Over each protocol, with units of both ways where they differ, the
// acceptor's power is cut once at each instant of a bill's way, in order,
// and kioskd killed at the same moment: after each restart the ledger
// accounts for the cassette, and at the end the bank has credited every bill
// in it once. The torture test draws its instants by chance; this run makes
// sure each protocol's shipped driver and the ledger's recovery meet every
// one of them.
func TestPowerCutAtEachInstantOverEachProtocol(t *testing.T) {
	bin := kioskdBinary(t)
	fsKind, _ := tortureFS(t)
	for _, p := range tortureProtocols {
		for _, variant := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/variant=%v", p.name, variant), func(t *testing.T) {
				r := newTortureRig(t, bin, p, tortureSeedFor(variant), fsKind)
				if r.variant != variant {
					t.Fatalf("seed %d drew variant %v, want %v: tortureSeedFor no longer matches the rig's draws", r.seed, r.variant, variant)
				}
				r.collectEvery = 0 // the one collection is at the end
				began := time.Now()
				for i := range r.emu.instants {
					r.kills, r.aim = i+1, i
					if r.torment(i+1, r.start()) {
						r.powerCut()
					}
				}
				r.finish(began)
				r.mu.Lock()
				defer r.mu.Unlock()
				for _, at := range r.emu.instants {
					if n := r.cuts[string(killPower)+" at "+at]; n != 1 {
						t.Errorf("the power was cut at %s %d times, want once (kills: %v)", at, n, r.cuts)
					}
				}
			})
		}
	}
}

// tortureSeedFor is the first seed whose rig draws variant, the rig's
// first draw.
func tortureSeedFor(variant bool) uint64 {
	for seed := uint64(1); ; seed++ {
		if (rand.New(rand.NewPCG(seed, 0x70a7)).IntN(2) == 0) == variant {
			return seed
		}
	}
}
