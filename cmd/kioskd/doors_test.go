package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tolem/devices/panel"
	"tolem/devices/panel/hd44780/hd44780test"
	"tolem/kiosk"
	"tolem/kiosk/console"
	"tolem/kiosk/flow"
)

// fakeGPIOPanel is the panel driver on periph's fake pins, at rest (keys
// and buttons up), with the service-door switch reading open or shut.
func fakeGPIOPanel(t *testing.T, doorOpen bool) *frontPanel {
	t.Helper()
	edge := func(name string, n int) *gpiotest.Pin {
		return &gpiotest.Pin{N: name, Num: n, L: gpio.High, EdgesChan: make(chan gpio.Level, 4)}
	}
	hw := panel.Hardware{Display: hd44780test.New(), LED: &gpiotest.Pin{N: "LED", Num: 24}}
	for i := range hw.Rows {
		hw.Rows[i] = &gpiotest.Pin{N: "ROW", Num: 5 + i}
	}
	for i := range hw.Cols {
		hw.Cols[i] = edge("COL", 16+i)
	}
	hw.OK, hw.Cancel = edge("OK", 17), edge("CANCEL", 27)
	// The door's input idles high through its pull-up; which level means
	// open is the config's door_open_high.
	hw.Door = edge("DOOR", 25)
	p, err := panel.New(hw, panel.Options{DoorOpenHigh: doorOpen, Sleep: func(time.Duration) {}, Refresh: -1})
	if err != nil {
		t.Fatal(err)
	}
	fp := gpioFrontPanel(p)
	t.Cleanup(func() { fp.closer.Close() })
	return fp
}

// A service door opened while the kiosk was off is seen at start like a
// door opened later: the alarm (nobody is logged in), no cash while it is
// open, the audit line and the heartbeat's flag.
func TestDoorOpenAtStartRaisesTheAlarm(t *testing.T) {
	r := newConRig(t, shortDir(t), false).startWith(fakeGPIOPanel(t, true))
	r.waitFlow("door_open", func(st flow.Status) bool {
		return st.State == kiosk.StateOutOfService && slices.Contains(st.Reasons, conditionDoor)
	})
	code, raw := conClient(r.cfg.Control.Socket).do(t, http.MethodGet, "/v1/status", nil)
	var st console.StatusReport
	json.Unmarshal(raw, &st)
	if code != http.StatusOK || !st.Door.Open || !st.Door.Alarm {
		t.Errorf("status door = %+v, want open with the alarm", st.Door)
	}
	if !r.w.doorAlarm.Load() {
		t.Error("the heartbeat's door alarm is not raised")
	}
	tail, err := r.led.AuditTail(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range tail {
		actions = append(actions, e.Action)
	}
	if !slices.Contains(actions, "door_alarm") {
		t.Errorf("audit actions %s, want door_alarm", strings.Join(actions, ","))
	}
}

// A door shut at start is no event: no alarm, the kiosk takes cash.
func TestDoorShutAtStartIsQuiet(t *testing.T) {
	r := newConRig(t, shortDir(t), false).startWith(fakeGPIOPanel(t, false))
	r.waitState(kiosk.StateIdle)
	if r.w.doorAlarm.Load() {
		t.Error("door alarm raised with the door shut")
	}
}
