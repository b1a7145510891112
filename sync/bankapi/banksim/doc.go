// Package banksim is the bank sandbox: an HTTP server that implements the
// bank's API v1 (SPEC §2) faithfully — signatures and the 300 s window,
// idempotent top-ups kept for good in SQLite, exactly-once crediting,
// batches, collections, heartbeats and wallet lookups — and that can be made
// to misbehave on purpose (latency, 503s, delayed crediting, answers lost
// after the commit, rate limits, a skewed clock), so that the kiosk's outbox
// is tested against the bad days of a real bank.
//
// cmd/banksim runs it as a program; kioskd --sim and the tests start it in
// process with New and Start (or Handler under httptest).
package banksim
