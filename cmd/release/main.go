// Command release makes the signed release tarballs kioskctl update apply
// installs, and the development key pair that signs them (see release.mk).
//
//	release pack -version 1.4.2 -arch armv7 -bin DIR -key KEY [-out dist] [-stage DIR]
//	release genkey [-out $HOME/.config/tolem/dev-minisign]
//	release verify -pub KEY.pub TARBALL [-sig TARBALL.minisig]
//
// pack writes dist/tolem-<version>-linux-<arch>.tar.gz (manifest.json first,
// then bin/kioskd and bin/kioskctl) and its .minisig, a prehashed minisign
// signature that `minisign -Vm` verifies too; with -stage it also unpacks
// the tarball there, checked, for the .deb. An encrypted secret key takes
// its password from TOLEM_MINISIGN_PASSWORD, or asks on the terminal.
//
// genkey never overwrites a key. With TOLEM_MINISIGN_PASSWORD empty it
// writes the secret key unencrypted (like `minisign -G -W`): for a
// development key only. A fleet's release key is made and kept offline
// with the minisign tool, with a password.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/term"

	"tolem/kiosk/update"
)

// passwordEnv names the environment variable holding the secret key's
// password.
const passwordEnv = "TOLEM_MINISIGN_PASSWORD"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: release pack|genkey|verify [flags]; release <command> -h for its flags")
		return 2
	}
	var err error
	switch args[0] {
	case "pack":
		err = pack(args[1:], stdout, stderr)
	case "genkey":
		err = genkey(args[1:], stdout, stderr)
	case "verify":
		err = verify(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "release: unknown command %q; want pack, genkey or verify\n", args[0])
		return 2
	}
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		if usage.msg != "" {
			fmt.Fprintf(stderr, "release %s: %s\n", args[0], usage.msg)
		}
		return 2
	}
	fmt.Fprintf(stderr, "release %s: %v\n", args[0], err)
	return 1
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func pack(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("release pack", flag.ContinueOnError)
	fl.SetOutput(stderr)
	version := fl.String("version", "", "release `version`, e.g. 1.4.2 (a leading v is dropped)")
	arch := fl.String("arch", "", "architecture: "+strings.Join(update.Architectures, ", "))
	bin := fl.String("bin", "", "`directory` holding the built kioskd and kioskctl")
	keyPath := fl.String("key", "", "minisign secret `key` file")
	out := fl.String("out", "dist", "output `directory`")
	stage := fl.String("stage", "", "also unpack the release into this `directory` (for the .deb)")
	if err := fl.Parse(args); err != nil {
		return usageError{}
	}
	v := strings.TrimPrefix(*version, "v")
	if _, err := update.ParseVersion(v); err != nil {
		return usageError{err.Error() + " (make release VERSION=x.y.z)"}
	}
	if *bin == "" || *keyPath == "" || *arch == "" {
		return usageError{"-arch, -bin and -key are required"}
	}
	priv, err := loadPrivateKey(*keyPath, stderr)
	if err != nil {
		return err
	}
	var files []update.PackFile
	for _, name := range []string{"kioskd", "kioskctl"} {
		data, err := os.ReadFile(filepath.Join(*bin, name))
		if err != nil {
			return fmt.Errorf("read the binary: %w (build it first: make release builds every architecture)", err)
		}
		files = append(files, update.PackFile{Path: "bin/" + name, Mode: 0o755, Data: data})
	}
	at := buildTime()
	var tarball bytes.Buffer
	if _, err := update.Pack(&tarball, v, *arch, files, at); err != nil {
		return err
	}
	name := fmt.Sprintf("tolem-%s-linux-%s.tar.gz", v, *arch)
	sig, err := update.Sign(priv, bytes.NewReader(tarball.Bytes()), name, time.Now())
	if err != nil {
		return err
	}
	// The key's own public half checks the signature before anything is
	// written: a wrong key file fails here, not on ten thousand kiosks.
	pub := priv.Public().(minisign.PublicKey)
	if _, err := update.VerifySignature(bytes.NewReader(tarball.Bytes()), sig, []minisign.PublicKey{pub}); err != nil {
		return fmt.Errorf("self-check of the signature: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, name)
	if err := os.WriteFile(path, tarball.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(path+".minisig", sig, 0o644); err != nil {
		return err
	}
	if *stage != "" {
		if err := os.RemoveAll(*stage); err != nil {
			return err
		}
		if err := os.MkdirAll(*stage, 0o755); err != nil {
			return err
		}
		if _, err := update.Extract(bytes.NewReader(tarball.Bytes()), *stage); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%s (key %016X)\n", path, pub.ID())
	return nil
}

// buildTime stamps the tarball's entries: SOURCE_DATE_EPOCH when set, so a
// rebuild of the same commit gives the same bytes.
func buildTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

// loadPrivateKey reads a minisign secret key, encrypted or not.
func loadPrivateKey(path string, stderr io.Writer) (minisign.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("read the secret key: %w (make dev-keys writes a development one)", err)
	}
	if !minisign.IsEncrypted(data) {
		var priv minisign.PrivateKey
		if err := priv.UnmarshalText(data); err != nil {
			return minisign.PrivateKey{}, fmt.Errorf("%s: %w", path, err)
		}
		return priv, nil
	}
	password, ok := os.LookupEnv(passwordEnv)
	if !ok {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return minisign.PrivateKey{}, fmt.Errorf("%s is encrypted: set %s or run on a terminal", path, passwordEnv)
		}
		fmt.Fprintf(stderr, "password for %s: ", path)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return minisign.PrivateKey{}, err
		}
		password = string(b)
	}
	priv, err := minisign.DecryptKey(password, data)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("%s: wrong password, or not a minisign secret key: %w", path, err)
	}
	return priv, nil
}

func genkey(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("release genkey", flag.ContinueOnError)
	fl.SetOutput(stderr)
	def := "dev-minisign"
	if home, err := os.UserHomeDir(); err == nil {
		def = filepath.Join(home, ".config", "tolem", "dev-minisign")
	}
	out := fl.String("out", def, "`prefix` of the key files: PREFIX.key and PREFIX.pub")
	if err := fl.Parse(args); err != nil {
		return usageError{}
	}
	keyPath, pubPath := *out+".key", *out+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(stdout, "%s exists; keeping the key pair that is there\n", p)
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var secret []byte
	if password := os.Getenv(passwordEnv); password != "" {
		if secret, err = minisign.EncryptKey(password, priv); err != nil {
			return err
		}
	} else {
		if secret, err = marshalUnencrypted(priv); err != nil {
			return err
		}
	}
	pubText, err := pub.MarshalText()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return err
	}
	// O_EXCL: a key made at the same moment by another run is not replaced.
	if err := writeNew(keyPath, append(secret, '\n'), 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, append(pubText, '\n'), 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\nput this line into update.keys of the kiosk config:\n  %s\n", keyPath, pubPath, pub.String())
	return nil
}

func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// marshalUnencrypted writes a secret key without a password in the format
// of `minisign -G -W`. The minisign tool checks a BLAKE2b-256 checksum over
// the algorithm, key id and key even when nothing is encrypted, and the
// library leaves it zero, so it is filled in here.
func marshalUnencrypted(priv minisign.PrivateKey) ([]byte, error) {
	text, err := priv.MarshalText()
	if err != nil {
		return nil, err
	}
	comment, encoded, ok := bytes.Cut(text, []byte("\n"))
	if !ok {
		return nil, errors.New("unexpected secret key format")
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(encoded)))
	if err != nil || len(raw) != 158 {
		return nil, errors.New("unexpected secret key format")
	}
	// Layout: sig alg (2), kdf alg (2), cksum alg (2), salt (32), ops (8),
	// mem (8), then key id (8), Ed25519 key (64), checksum (32).
	var msg [2 + 8 + 64]byte
	binary.LittleEndian.PutUint16(msg[:], minisign.EdDSA)
	copy(msg[2:], raw[54:126])
	sum := blake2b.Sum256(msg[:])
	copy(raw[126:], sum[:])
	out := append(comment, '\n')
	return append(out, base64.StdEncoding.EncodeToString(raw)...), nil
}

func verify(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("release verify", flag.ContinueOnError)
	fl.SetOutput(stderr)
	pubPath := fl.String("pub", "", "minisign public key `file`")
	sig := fl.String("sig", "", "signature `file` (default: TARBALL.minisig)")
	if err := fl.Parse(args); err != nil {
		return usageError{}
	}
	if fl.NArg() != 1 || *pubPath == "" {
		return usageError{"want -pub KEY.pub and one tarball"}
	}
	pub, err := os.ReadFile(*pubPath)
	if err != nil {
		return err
	}
	if *sig == "" {
		*sig = fl.Arg(0) + ".minisig"
	}
	m, err := update.Verify(fl.Arg(0), *sig, []string{string(pub)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "valid: tolem %s for %s, %d files\n", m.Version, m.Arch, len(m.Files))
	return nil
}
