package bankapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"tolem/kiosk"
)

func TestClassification(t *testing.T) {
	tests := []struct {
		name              string
		err               error
		retryable, review bool
		unavailable       bool
		retryAfter        time.Duration
	}{
		{"nil", nil, false, false, false, 0},
		{"500", &HTTPError{Code: 500}, true, false, true, 0},
		{"503 with Retry-After", &HTTPError{Code: 503, RetryAfter: 2 * time.Second}, true, false, true, 2 * time.Second},
		{"429", fmt.Errorf("submit: %w", &HTTPError{Code: 429, RetryAfter: time.Second}), true, false, true, time.Second},
		{"401 bad signature", &HTTPError{Code: 401, ErrorCode: CodeBadSignature}, true, false, false, 0},
		{"409", &HTTPError{Code: 409, ErrorCode: CodeIdempotencyConflict}, false, true, false, 0},
		{"422", fmt.Errorf("x: %w", &HTTPError{Code: 422, ErrorCode: CodeInvalid}), false, true, false, 0},
		{"404 unknown top-up", fmt.Errorf("%w: %w", ErrUnknownTopUp, &HTTPError{Code: 404}), false, false, false, 0},
		{"unreachable", &unreachableError{errors.New("connection refused")}, true, false, true, 0},
		{"garbage", garbage("status", errors.New("x")), true, false, false, 0},
		{"deadline", context.DeadlineExceeded, true, false, false, 0},
		{"unexpected EOF", io.ErrUnexpectedEOF, true, false, false, 0},
		{"cancelled by the caller", fmt.Errorf("x: %w", context.Canceled), false, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Retryable(tc.err); got != tc.retryable {
				t.Errorf("Retryable = %v", got)
			}
			if got := Review(tc.err); got != tc.review {
				t.Errorf("Review = %v", got)
			}
			if got := errors.Is(tc.err, kiosk.ErrBankUnavailable); got != tc.unavailable {
				t.Errorf("is ErrBankUnavailable = %v", got)
			}
			if got := RetryAfter(tc.err); got != tc.retryAfter {
				t.Errorf("RetryAfter = %v", got)
			}
		})
	}
}
