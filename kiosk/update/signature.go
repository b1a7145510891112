package update

import (
	"fmt"
	"io"
	"strings"
	"time"

	"aead.dev/minisign"
)

// maxSignatureSize bounds the .minisig read; a real one is under 400 bytes.
const maxSignatureSize = 16 << 10

// ParseKeys decodes minisign public keys: the base64 line of a .pub file,
// optionally after its "untrusted comment:" line. With no key every update
// is refused, so that an unconfigured kiosk never trusts anything.
func ParseKeys(keys []string) ([]minisign.PublicKey, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: update.keys is empty; add the fleet's minisign public key (the base64 line of its .pub file) to the config", ErrSignature)
	}
	out := make([]minisign.PublicKey, 0, len(keys))
	for i, k := range keys {
		var pk minisign.PublicKey
		if err := pk.UnmarshalText([]byte(strings.TrimSpace(k))); err != nil {
			return nil, fmt.Errorf("%w: update.keys[%d]: %v", ErrSignature, i, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

// VerifySignature reads r to its end and checks the minisign signature sig
// of it against each key; any one of them will do, so that a fleet can
// rotate keys by shipping the new one before signing with it. It returns
// the signature's trusted comment.
//
// Only prehashed signatures (minisign's default since 0.10, and what
// cmd/release writes) are accepted: they are checked while streaming, so a
// tarball is never held in memory.
func VerifySignature(r io.Reader, sig []byte, keys []minisign.PublicKey) (string, error) {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return "", fmt.Errorf("%w: not a minisign signature file: %v", ErrSignature, err)
	}
	if s.Algorithm != minisign.HashEdDSA {
		return "", fmt.Errorf("%w: legacy (not prehashed) signature; sign with `minisign -S` of version 0.10 or later, or with make release", ErrSignature)
	}
	var key *minisign.PublicKey
	ids := make([]string, 0, len(keys))
	for i := range keys {
		ids = append(ids, keyID(keys[i].ID()))
		if keys[i].ID() == s.KeyID {
			key = &keys[i]
		}
	}
	if key == nil {
		return "", fmt.Errorf("%w: signed with key %s, which is not in update.keys (%s); sign with the fleet's key or add its public key to the config",
			ErrSignature, keyID(s.KeyID), strings.Join(ids, ", "))
	}
	mr := minisign.NewReader(r)
	if _, err := io.Copy(io.Discard, mr); err != nil {
		return "", fmt.Errorf("read the release: %w", err)
	}
	if !mr.Verify(*key, sig) {
		return "", fmt.Errorf("%w: the signature does not match the file (damaged or altered in transit: copy both files again)", ErrSignature)
	}
	return s.TrustedComment, nil
}

// keyID formats a key id the way minisign prints it.
func keyID(id uint64) string { return fmt.Sprintf("%016X", id) }

// Sign signs everything read from r with priv, prehashed, with the trusted
// comment the minisign tool writes ("timestamp:… file:… hashed"), so that
// `minisign -Vm FILE -p KEY.pub` verifies it too.
func Sign(priv minisign.PrivateKey, r io.Reader, fileName string, at time.Time) ([]byte, error) {
	mr := minisign.NewReader(r)
	if _, err := io.Copy(io.Discard, mr); err != nil {
		return nil, fmt.Errorf("sign %s: %w", fileName, err)
	}
	trusted := fmt.Sprintf("timestamp:%d\tfile:%s\thashed", at.Unix(), fileName)
	return mr.SignWithComments(priv, trusted, "signature from tolem release key"), nil
}
