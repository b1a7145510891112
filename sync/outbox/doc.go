// Package outbox delivers the kiosk's completed top-ups and collections to the
// bank, from the ledger, and keeps the bank told how the kiosk is (heartbeat).
//
// The ledger is the queue. The outbox keeps nothing the ledger does not have
// beyond retry counters: every answer of the bank is committed to the ledger
// (Store.UpdateSync) before the next request goes out, and a body is stored
// (Store.SetBody) before it is first sent, so that a kiosk killed at any
// instant resumes where it stood and a resend carries the same bytes under the
// same id, which the bank answers with the top-up's status instead of a
// second credit.
//
// One goroutine does everything, one request at a time, so no top-up ever
// has two requests in flight. Unsent top-ups go out in receipt order, in
// batches when more than one is due; pending ones are polled with growing
// intervals until the bank decides them; failures back off exponentially with
// full jitter, capped. A Retry-After is honoured: the top-ups of the request
// that got it wait at least that long, and after a 429 (the terminal's rate
// limit) no request at all goes out before it. While the bank does not
// answer a ping probes it, and the first answer after failures makes the
// waiting top-ups due at once. A top-up left unsent or pending too long after
// its completion raises an alarm; none is ever dropped for its age.
//
// The package reaches the ledger and the bank only through the Store,
// CollectionStore and Bank interfaces declared here; the daemon wires in the
// SQLite ledger and the bank API client. Time comes from a kiosk.Clock, so
// tests step back-off, polls and alarms on a fake clock.
package outbox
