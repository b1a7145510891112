// Package bankapi speaks the bank's API v1 (SPEC §2) for the kiosk: the wire
// types, the HMAC request signature (made by the kiosk, checked by the bank and
// by the sandbox in banksim), and an HTTP client.
//
// The client never retries on its own, apart from one immediate re-sign after
// a 401 stale_timestamp (the answer has taught it the bank's clock). Every
// other failure is returned typed, so that the outbox can decide what to do
// with a top-up: Review(err) for the answers a technician must look at (409,
// 422), Retryable(err) for everything that may succeed later (network, 5xx,
// 429, 401, timeouts, garbage answers). A top-up is never dropped on either.
//
// Bodies of top-ups and collections are passed as bytes: a retry must send the
// very bytes of the first attempt, so the caller marshals once (TopUpBody.Marshal)
// and keeps them.
package bankapi
