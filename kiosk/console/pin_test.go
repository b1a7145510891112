package console

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

func argonHash(pin string, m, t uint32, p uint8) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pin), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestVerifyPIN(t *testing.T) {
	b2a, _ := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.MinCost)
	b2b := strings.Replace(string(b2a), "$2a$", "$2b$", 1)
	argon := argonHash("2468", 64, 1, 1)
	padded := strings.Replace(argon, "$"+base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef")),
		"$"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), 1)
	tests := []struct {
		name, hash, pin string
		ok              bool
		err             error
	}{
		{"bcrypt 2a", string(b2a), "2468", true, nil},
		{"bcrypt 2b", b2b, "2468", true, nil},
		{"bcrypt wrong", string(b2a), "2469", false, nil},
		{"bcrypt empty PIN", string(b2a), "", false, nil},
		{"argon2id", argon, "2468", true, nil},
		{"argon2id padded base64", padded, "2468", true, nil},
		{"argon2id wrong", argon, "8642", false, nil},
		{"plain PIN in the config", "2468", "2468", false, ErrBadHash},
		{"truncated bcrypt", string(b2a[:30]), "2468", false, ErrBadHash},
		{"argon2i", strings.Replace(argon, "argon2id", "argon2i", 1), "2468", false, ErrBadHash},
		{"argon2id huge memory", "$argon2id$v=19$m=99999999,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43), "2468", false, ErrBadHash},
		{"argon2id other version", strings.Replace(argon, "v=19", "v=16", 1), "2468", false, ErrBadHash},
		{"argon2id missing field", strings.Join(strings.Split(argon, "$")[:5], "$"), "2468", false, ErrBadHash},
	}
	for _, tt := range tests {
		ok, err := VerifyPIN(tt.hash, tt.pin)
		if ok != tt.ok || !errors.Is(err, tt.err) {
			t.Errorf("%s: VerifyPIN = %v, %v; want %v, %v", tt.name, ok, err, tt.ok, tt.err)
		}
	}
}

func TestHashPIN(t *testing.T) {
	h, err := HashPIN("735190")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2a$") || len(h) != 60 {
		t.Errorf("hash %q is not a whole bcrypt hash", h)
	}
	if ok, err := VerifyPIN(h, "735190"); !ok || err != nil {
		t.Errorf("the PIN does not verify against its own hash: %v, %v", ok, err)
	}
	if _, err := HashPIN("123"); err == nil {
		t.Error("a 3-character PIN was hashed")
	}
}
