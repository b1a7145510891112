package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tolem/kiosk/update"
)

func runRelease(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, &out, &out)
	return code, out.String()
}

// devKey makes an unencrypted key pair in a temporary directory.
func devKey(t *testing.T) (prefix string) {
	t.Helper()
	t.Setenv(passwordEnv, "")
	prefix = filepath.Join(t.TempDir(), "keys", "dev")
	if code, out := runRelease(t, "genkey", "-out", prefix); code != 0 {
		t.Fatalf("genkey: %d %s", code, out)
	}
	return prefix
}

func TestGenkeyNeverOverwrites(t *testing.T) {
	prefix := devKey(t)
	key, _ := os.ReadFile(prefix + ".key")
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key mode: %v %v", fi.Mode(), err)
	}
	code, out := runRelease(t, "genkey", "-out", prefix)
	if code != 0 || !strings.Contains(out, "keeping the key pair") {
		t.Errorf("second genkey: %d %s", code, out)
	}
	if again, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(again, key) {
		t.Error("the secret key was replaced")
	}
}

func fakeBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"kioskd", "kioskctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("binary "+name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPackSignsAndStages(t *testing.T) {
	prefix := devKey(t)
	out, stage := t.TempDir(), filepath.Join(t.TempDir(), "stage")
	t.Setenv("SOURCE_DATE_EPOCH", "1767600000")
	code, msg := runRelease(t, "pack", "-version", "v1.4.2", "-arch", "armv7", "-bin", fakeBinaries(t),
		"-key", prefix+".key", "-out", out, "-stage", stage)
	if code != 0 {
		t.Fatalf("pack: %d %s", code, msg)
	}
	tarball := filepath.Join(out, "tolem-1.4.2-linux-armv7.tar.gz")
	if code, msg := runRelease(t, "verify", "-pub", prefix+".pub", tarball); code != 0 || !strings.Contains(msg, "tolem 1.4.2 for armv7") {
		t.Errorf("verify: %d %s", code, msg)
	}
	m, err := update.VerifyTree(stage)
	if err != nil || m.Version != "1.4.2" {
		t.Errorf("stage: %+v %v", m, err)
	}

	// The same inputs give the same tarball.
	first, _ := os.ReadFile(tarball)
	runRelease(t, "pack", "-version", "1.4.2", "-arch", "armv7", "-bin", fakeBinaries(t), "-key", prefix+".key", "-out", out)
	if again, _ := os.ReadFile(tarball); !bytes.Equal(first, again) {
		t.Error("two packs of the same inputs differ")
	}
}

func TestPackRefuses(t *testing.T) {
	prefix := devKey(t)
	bin := fakeBinaries(t)
	for _, args := range [][]string{
		{"pack", "-version", "latest", "-arch", "armv7", "-bin", bin, "-key", prefix + ".key"},
		{"pack", "-version", "1.0.0", "-arch", "mips", "-bin", bin, "-key", prefix + ".key", "-out", t.TempDir()},
		{"pack", "-version", "1.0.0", "-arch", "armv7", "-bin", t.TempDir(), "-key", prefix + ".key", "-out", t.TempDir()},
		{"pack", "-version", "1.0.0", "-arch", "armv7", "-bin", bin, "-key", prefix + ".pub", "-out", t.TempDir()},
	} {
		if code, msg := runRelease(t, args...); code == 0 {
			t.Errorf("%v: accepted: %s", args, msg)
		}
	}
}

// The keys and signatures work with the minisign tool both ways: what
// operators use by hand, and what signs a fleet's releases offline.
func TestMinisignToolCompatibility(t *testing.T) {
	tool, err := exec.LookPath("minisign")
	if err != nil {
		t.Skip("minisign is not installed (apt-get install minisign)")
	}
	prefix := devKey(t)
	out := t.TempDir()
	if code, msg := runRelease(t, "pack", "-version", "1.0.0", "-arch", "arm64", "-bin", fakeBinaries(t), "-key", prefix+".key", "-out", out); code != 0 {
		t.Fatalf("pack: %s", msg)
	}
	tarball := filepath.Join(out, "tolem-1.0.0-linux-arm64.tar.gz")
	if b, err := exec.Command(tool, "-V", "-m", tarball, "-p", prefix+".pub").CombinedOutput(); err != nil {
		t.Fatalf("minisign -V rejects our signature: %v\n%s", err, b)
	} else if !strings.Contains(string(b), "file:tolem-1.0.0-linux-arm64.tar.gz") {
		t.Errorf("trusted comment not shown: %s", b)
	}

	// Our unencrypted secret key signs in the tool, and we verify that.
	other := filepath.Join(t.TempDir(), "x.tar.gz")
	data, _ := os.ReadFile(tarball)
	os.WriteFile(other, data, 0o644)
	cmd := exec.Command(tool, "-S", "-s", prefix+".key", "-m", other)
	cmd.Stdin = strings.NewReader("")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -S with our key: %v\n%s", err, b)
	}
	pub, _ := os.ReadFile(prefix + ".pub")
	if _, err := update.Verify(other, other+".minisig", []string{string(pub)}); err != nil {
		t.Errorf("a signature by the minisign tool: %v", err)
	}
}
