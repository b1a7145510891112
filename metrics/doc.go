// Package metrics exports the kiosk to Prometheus (SPEC §9): what an
// operator of a fleet puts on a dashboard and pages on.
//
// Most of it is read at scrape time from a Source (the flow's state, the
// acceptor's faults, the cassette and the queue from the ledger, the bank's
// reachability and the outbox's counts), so a kiosk nobody scrapes does no
// work for it. Only events with no state to read are pushed: top-ups
// completed, bills stacked, the escrow-to-STACK and ledger-commit latencies,
// bank request latencies, console logins and lockouts. Those hooks are a
// counter increment or a histogram observation, cheap on the paths that call
// them. No label carries a phone number, an id or anything else that grows
// without bound.
package metrics
