package bankapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of the API.
const (
	HeaderTerminalID     = "X-Terminal-Id"
	HeaderTimestamp      = "X-Timestamp"
	HeaderSignature      = "X-Signature"
	HeaderBankTime       = "X-Bank-Time"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Window is how far a request's timestamp may be from the bank's clock.
const Window = 300 * time.Second

// Errors of Verify, answered 401 with the matching error code.
var (
	ErrBadSignature   = errors.New("bad_signature")
	ErrStaleTimestamp = errors.New("stale_timestamp")
)

const sigPrefix = "v1="

// Canonical is the string a request's signature covers.
func Canonical(method, pathWithQuery string, timestamp int64, body []byte) string {
	sum := sha256.Sum256(body)
	return method + "\n" + pathWithQuery + "\n" + strconv.FormatInt(timestamp, 10) + "\n" + hex.EncodeToString(sum[:])
}

// Signature is the X-Signature value for canonical: "v1=" and the hex HMAC.
func Signature(secret []byte, canonical string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(canonical))
	return sigPrefix + hex.EncodeToString(m.Sum(nil))
}

// Sign sets the signature headers of req, whose body is body, at time now
// (the kiosk's clock corrected by the bank's offset). A retry must be signed
// again: the timestamp is part of what is signed.
func Sign(req *http.Request, body []byte, terminalID string, secret []byte, now time.Time) {
	ts := now.Unix()
	req.Header.Set(HeaderTerminalID, terminalID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Signature(secret, Canonical(req.Method, req.URL.RequestURI(), ts, body)))
}

// requestTarget is the path and query exactly as the client sent them.
func requestTarget(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// Verify checks the signature of a request the bank received with body, at
// the bank's time now. A missing or wrong signature, or an unknown terminal,
// is ErrBadSignature; a good signature on a timestamp more than window from
// now is ErrStaleTimestamp. The signature is checked first, so that only a
// terminal holding the secret learns that its clock is off.
func Verify(r *http.Request, body []byte, secretFor func(terminalID string) ([]byte, bool), now time.Time, window time.Duration) error {
	id := r.Header.Get(HeaderTerminalID)
	tsText := r.Header.Get(HeaderTimestamp)
	sig := r.Header.Get(HeaderSignature)
	if id == "" || tsText == "" || !strings.HasPrefix(sig, sigPrefix) {
		return ErrBadSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	secret, ok := secretFor(id)
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig[len(sigPrefix):])
	if err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(Signature(secret, Canonical(r.Method, requestTarget(r), ts, body))[len(sigPrefix):])
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	n, w := now.Unix(), int64(window/time.Second)
	if ts < n-w || ts > n+w {
		return ErrStaleTimestamp
	}
	return nil
}
