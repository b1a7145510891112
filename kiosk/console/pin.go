package console

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// PIN rules of HashPIN.
const (
	MinPINLength = 4
	MaxPINLength = 64
	// PINCost is the bcrypt cost of HashPIN: about a tenth of a second on a
	// Raspberry Pi per try, which the lockout multiplies.
	PINCost = bcrypt.DefaultCost
)

// Argon2id parameters that VerifyPIN accepts at most, so that a mistyped
// hash in the config cannot make each login take all the memory or minutes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
	maxArgonThreads   = 64
	maxArgonKeyLen    = 128
)

// ErrBadHash: the pin_hash is neither bcrypt nor argon2id, or is damaged.
var ErrBadHash = errors.New("PIN hash is not a whole bcrypt or argon2id hash")

// HashPIN returns the bcrypt hash of pin for a technician's pin_hash.
func HashPIN(pin string) (string, error) {
	if n := len([]rune(pin)); n < MinPINLength || n > MaxPINLength {
		return "", fmt.Errorf("a PIN needs %d to %d characters, got %d", MinPINLength, MaxPINLength, n)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pin), PINCost)
	if err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	return string(h), nil
}

// VerifyPIN reports whether pin matches hash, a bcrypt ($2a$, $2b$) or
// argon2id PHC hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash). The comparison
// takes the same time whichever byte differs.
func VerifyPIN(hash, pin string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pin))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrBadHash, err)
		}
		return true, nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, pin)
	}
	return false, ErrBadHash
}

func verifyArgon2id(hash, pin string) (bool, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 {
		return false, fmt.Errorf("%w: want 5 fields after $argon2id", ErrBadHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("%w: argon2 version %q, want v=%d", ErrBadHash, parts[2], argon2.Version)
	}
	var m, t, p uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return false, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return false, fmt.Errorf("%w: unknown parameter %q", ErrBadHash, k)
		}
	}
	if m == 0 || t == 0 || p == 0 || m > maxArgonMemoryKiB || t > maxArgonTime || p > maxArgonThreads || m < 8*p {
		return false, fmt.Errorf("%w: parameters m=%d,t=%d,p=%d out of range", ErrBadHash, m, t, p)
	}
	salt, err := decodeB64(parts[4])
	if err != nil || len(salt) < 8 {
		return false, fmt.Errorf("%w: salt", ErrBadHash)
	}
	want, err := decodeB64(parts[5])
	if err != nil || len(want) < 16 || len(want) > maxArgonKeyLen {
		return false, fmt.Errorf("%w: key", ErrBadHash)
	}
	got := argon2.IDKey([]byte(pin), salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// decodeB64 reads the unpadded standard base64 of PHC strings, and the
// padded form some tools print.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// dummyHash is compared against when the typed id is unknown, so that a
// wrong id takes as long as a wrong PIN and does not tell which ids exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such technician"), PINCost)
	return string(h)
})
