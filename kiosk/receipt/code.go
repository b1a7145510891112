package receipt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"time"

	"tolem/kiosk"
)

// CodeLen is how many characters of the base32 digest the code keeps.
const CodeLen = 10

// Canonical is the string the verification code signs (SPEC §8): amount in
// tiyn, completed_at as in the top-up body (RFC 3339, UTC, whole seconds).
func Canonical(terminalID string, receiptNo int64, id string, amount kiosk.Money, completedAt time.Time) string {
	return "receipt\n" + terminalID + "\n" + strconv.FormatInt(receiptNo, 10) + "\n" + id + "\n" +
		strconv.FormatInt(int64(amount), 10) + "\n" + completedAt.UTC().Format(time.RFC3339)
}

// Code is the verification code of a receipt: the first CodeLen characters
// of the upper-case, unpadded base32 of HMAC-SHA256(secret, canonical).
func Code(secret []byte, terminalID string, receiptNo int64, id string, amount kiosk.Money, completedAt time.Time) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(Canonical(terminalID, receiptNo, id, amount, completedAt)))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))[:CodeLen]
}

// TopUpCode is Code for a top-up.
func TopUpCode(secret []byte, terminalID string, t kiosk.TopUp) string {
	return Code(secret, terminalID, t.ReceiptNo, t.ID, t.Amount, t.CompletedAt)
}

// Verify reports whether code is the code of those fields, in constant time.
func Verify(secret []byte, terminalID string, receiptNo int64, id string, amount kiosk.Money, completedAt time.Time, code string) bool {
	want := Code(secret, terminalID, receiptNo, id, amount, completedAt)
	return hmac.Equal([]byte(want), []byte(code))
}
