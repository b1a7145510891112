package banksim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Faults are the misbehaviours the sandbox can put on: what a real bank and
// the network between do to a kiosk on a bad day. The zero Faults is a
// perfect bank. Rates are probabilities per request, 0…1.
type Faults struct {
	// Latency delays every API answer.
	Latency time.Duration
	// FailRate answers 503 before anything is done.
	FailRate float64
	// PendingRate answers a new top-up 202 and credits it CreditDelay later.
	PendingRate float64
	// PendingEvery answers 202 to every n-th top-up by its receipt number,
	// from the first (3: receipts 1, 4, 7, …), as PendingRate does at
	// random: a demo shows the pending path at once, and always as often.
	PendingEvery int
	// CreditDelay is when a pending top-up is decided: credited, or rejected
	// for an unknown wallet.
	CreditDelay time.Duration
	// DropRate commits a top-up, batch or collection, then closes the
	// connection without an answer: the kiosk cannot tell it was taken.
	DropRate float64
	// RateLimit answers 429 with Retry-After past this many requests per
	// second (a burst of as many is allowed); 0 is no limit.
	RateLimit float64
	// ClockSkew shifts the bank's clock: X-Bank-Time, the 300 s window and
	// the times in answers.
	ClockSkew time.Duration
}

// faultsJSON is the admin endpoint's form: every field optional, so that a
// POST changes only what it names. Durations are Go durations ("250ms",
// "-5m") or seconds as a number.
type faultsJSON struct {
	Latency      *jsonDuration `json:"latency,omitempty"`
	FailRate     *float64      `json:"fail_rate,omitempty"`
	PendingRate  *float64      `json:"pending_rate,omitempty"`
	PendingEvery *int          `json:"pending_every,omitempty"`
	CreditDelay  *jsonDuration `json:"credit_delay,omitempty"`
	DropRate     *float64      `json:"drop_rate,omitempty"`
	RateLimit    *float64      `json:"rate_limit,omitempty"`
	ClockSkew    *jsonDuration `json:"clock_skew,omitempty"`
}

type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("a duration is a string like \"250ms\" or a number of seconds")
	}
	if math.IsNaN(f) || math.Abs(f) > 1e9 {
		return errors.New("duration out of range")
	}
	*d = jsonDuration(f * float64(time.Second))
	return nil
}

func ptrD(d time.Duration) *jsonDuration { v := jsonDuration(d); return &v }
func ptrF(f float64) *float64            { return &f }
func ptrI(i int) *int                    { return &i }

// MarshalJSON writes every field, durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency: ptrD(f.Latency), FailRate: ptrF(f.FailRate), PendingRate: ptrF(f.PendingRate),
		PendingEvery: ptrI(f.PendingEvery),
		CreditDelay:  ptrD(f.CreditDelay), DropRate: ptrF(f.DropRate), RateLimit: ptrF(f.RateLimit),
		ClockSkew: ptrD(f.ClockSkew),
	})
}

// UnmarshalJSON changes the fields the JSON names and keeps the others.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := *f
	if w.Latency != nil {
		n.Latency = time.Duration(*w.Latency)
	}
	if w.FailRate != nil {
		n.FailRate = *w.FailRate
	}
	if w.PendingRate != nil {
		n.PendingRate = *w.PendingRate
	}
	if w.PendingEvery != nil {
		n.PendingEvery = *w.PendingEvery
	}
	if w.CreditDelay != nil {
		n.CreditDelay = time.Duration(*w.CreditDelay)
	}
	if w.DropRate != nil {
		n.DropRate = *w.DropRate
	}
	if w.RateLimit != nil {
		n.RateLimit = *w.RateLimit
	}
	if w.ClockSkew != nil {
		n.ClockSkew = time.Duration(*w.ClockSkew)
	}
	if err := n.Validate(); err != nil {
		return err
	}
	*f = n
	return nil
}

// Validate refuses rates outside 0…1 and negative delays.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"fail_rate": f.FailRate, "pending_rate": f.PendingRate, "drop_rate": f.DropRate} {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("%s %v is not between 0 and 1", name, r)
		}
	}
	if f.PendingEvery < 0 {
		return fmt.Errorf("pending_every %d: give a count of top-ups, or 0 for none", f.PendingEvery)
	}
	if f.Latency < 0 || f.CreditDelay < 0 {
		return errors.New("latency and credit_delay cannot be negative")
	}
	if !(f.RateLimit >= 0) || math.IsInf(f.RateLimit, 0) {
		return errors.New("rate_limit must be a number of requests per second, 0 for none")
	}
	return nil
}

// bucket is a token bucket: RateLimit tokens a second, as many at most.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

// take spends a token at now, or says how long until one is there.
func (b *bucket) take(now time.Time, rate float64) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	burst := math.Max(1, rate)
	if b.rate != rate || b.last.IsZero() {
		*b = bucket{rate: rate, tokens: burst, last: now}
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(burst, b.tokens+el*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// retryAfter is the Retry-After header value for a wait: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
