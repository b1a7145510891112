package bankapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"tolem/kiosk"
)

// Errors of the client besides *HTTPError.
var (
	// ErrGarbage: the bank's answer was not what the API defines (not JSON,
	// a field missing or of the wrong type, an unknown status, over 1 MiB).
	// Retryable: a proxy page in front of a bank being deployed looks like this.
	ErrGarbage = errors.New("bank answered garbage")
	// ErrUnknownTopUp: GET /v1/topups/{id} answered 404; the top-up must be
	// submitted again.
	ErrUnknownTopUp = errors.New("bank does not know this top-up")
	// ErrUnreachable: no answer at all (DNS, connection, TLS, timeout, a
	// connection closed mid-answer). It also matches kiosk.ErrBankUnavailable.
	ErrUnreachable = errors.New("bank unreachable")
)

func garbage(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrGarbage, what, err)
}

// unreachableError is a transport failure: it is ErrUnreachable and
// kiosk.ErrBankUnavailable, and keeps the cause for errors.Is/As.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string {
	return "bank unreachable (check the network and bank.url): " + e.err.Error()
}

func (e *unreachableError) Unwrap() []error {
	return []error{ErrUnreachable, kiosk.ErrBankUnavailable, e.err}
}

// HTTPError is an answer with a status code the request does not expect.
type HTTPError struct {
	Method string
	Path   string
	// Code is the HTTP status code.
	Code int
	// ErrorCode is the API's error code from the body ("idempotency_conflict"),
	// empty when the body was not an API error.
	ErrorCode string
	Message   string
	// RetryAfter is the bank's Retry-After (429, 503), zero when absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: bank answered %d", e.Method, e.Path, e.Code)
	if e.ErrorCode != "" {
		b.WriteString(" " + e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(" (" + e.Message + ")")
	}
	if h := e.hint(); h != "" {
		b.WriteString(": " + h)
	}
	return b.String()
}

func (e *HTTPError) hint() string {
	switch {
	case e.Code == 401 && e.ErrorCode == CodeStaleTimestamp:
		return "the kiosk's clock is far from the bank's; check NTP"
	case e.Code == 401:
		return "check terminal_id and bank.secret against the bank's record"
	case e.Code == 409:
		return "the bank holds this id with another body; a technician must review it"
	case e.Code == 422:
		return "the bank refused the body; a technician must review it"
	case e.Code == 429:
		return fmt.Sprintf("the bank limits requests; retry after %s", e.RetryAfter)
	case e.Code >= 500:
		return "the bank is failing; it will be retried"
	case e.Code == 403, e.Code == 404, e.Code == 405:
		return "check bank.url"
	}
	return ""
}

// Is makes a 5xx, 429 or 408 match kiosk.ErrBankUnavailable.
func (e *HTTPError) Is(target error) bool {
	return target == kiosk.ErrBankUnavailable && e.retryable() && e.Code != 401
}

func (e *HTTPError) retryable() bool {
	switch e.Code {
	case 401, 408, 425, 429:
		return true
	}
	return e.Code >= 500
}

// Retryable reports whether err may succeed when the same request is sent
// again later (signed anew, same body): 5xx, 429, 401, timeouts, connection
// errors and garbage answers. A caller's cancellation is not retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.retryable()
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrGarbage) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// Review reports whether err is an answer that no retry can change (409
// idempotency_conflict, 422 invalid): the top-up goes to the review list.
func Review(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Code == 409 || he.Code == 422
	}
	return false
}

// RetryAfter is the bank's Retry-After carried by err, zero when none.
func RetryAfter(err error) time.Duration {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.RetryAfter
	}
	return 0
}
