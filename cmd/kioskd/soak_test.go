package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak runs kioskd --sim (built without the race detector, as shipped)
// through SOAK_TOPUPS top-ups with the bank sandbox failing a third of its
// requests, and samples the daemon's RSS, goroutines and open files every
// 100 top-ups: after warm-up they must stay flat (the goroutines' floor:
// the requests in flight come and go). make soak runs it; the
// figures go to BENCHMARKS.md.
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SOAK_TOPUPS"))
	if n <= 0 {
		t.Skip("a soak of minutes: SOAK_TOPUPS=2000 (make soak)")
	}
	bin := filepath.Join(t.TempDir(), "kioskd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dir := shortDir(t)
	k := &simKiosk{t: t, dir: dir, logs: &syncBuffer{}}
	k.cmd = exec.Command(bin, "--sim", "--headless", "--sim-acceptor", "inproc", "--data-dir", dir, "--metrics-listen", addr)
	k.cmd.Env = append(os.Environ(),
		envSimFaults+`={"fail_rate":0.33,"latency":"20ms","pending_rate":0.1,"credit_delay":"2s"}`,
		envSimOutbox+`={"min_backoff":"200ms","max_backoff":"5s","poll_after":"1s","probe_interval":"2s","heartbeat_interval":"10s"}`)
	k.cmd.Stdout, k.cmd.Stderr = io.Discard, k.logs
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if k.cmd.ProcessState == nil {
			k.cmd.Process.Kill()
			k.cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for k.conn == nil {
		if c, err := net.Dial("unix", filepath.Join(dir, "panel.sock")); err == nil {
			k.conn, k.rd = c, bufio.NewReader(c)
		} else if time.Now().After(deadline) {
			t.Fatalf("panel socket never came up: %v", err)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}

	type sample struct {
		topUps, rssKB, goroutines, fds int
		heapKB, goSysKB                int
		anonKB, fileKB                 int
	}
	pid := k.cmd.Process.Pid
	take := func(i int) sample {
		m := scrape(t, addr, "go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes")
		s := sample{topUps: i, rssKB: procStatus(t, pid, "VmRSS"), fds: countFDs(t, pid),
			goroutines: int(m[0]), heapKB: int(m[1] / 1024), goSysKB: int(m[2] / 1024),
			anonKB: procStatus(t, pid, "RssAnon"), fileKB: procStatus(t, pid, "RssFile") + procStatus(t, pid, "RssShmem")}
		// The Go heap and the runtime's own memory beside the RSS tell the
		// Go side's growth from SQLite's (its page caches live outside the
		// Go heap, in anonymous memory); the file-backed part is the
		// binary's code as it is first run, and the WAL's shared index.
		t.Logf("after %5d top-ups: RSS %6d kB (anonymous %6d, files %6d; Go heap %6d kB, Go total %6d kB), %4d goroutines, %3d open files",
			s.topUps, s.rssKB, s.anonKB, s.fileKB, s.heapKB, s.goSysKB, s.goroutines, s.fds)
		return s
	}
	var samples []sample
	start := time.Now()
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			samples = append(samples, take(i))
		}
		soakToInsertCash(k)
		k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
		k.send("KEY OK")
		k.waitState("done")
		k.send("KEY OK")
	}
	samples = append(samples, take(n))
	t.Logf("%d top-ups in %v", n, time.Since(start).Round(time.Second))
	k.stop()

	// Warm-up: the first fifth. After it nothing may grow with the count.
	warm := samples[len(samples)/5]
	last := samples[len(samples)-1]
	peakRSS := 0
	for _, s := range samples[len(samples)/5:] {
		peakRSS = max(peakRSS, s.rssKB)
	}
	if last.rssKB > warm.rssKB*5/4+4096 {
		t.Errorf("RSS grew from %d kB after warm-up to %d kB", warm.rssKB, last.rssKB)
	}
	// Goroutines come and go with the requests in flight (the sandbox's
	// handlers, the client's connections): compare the floors, the fewest
	// in the five samples after warm-up and in the last five.
	floor := func(ss []sample) int {
		m := ss[0].goroutines
		for _, s := range ss {
			m = min(m, s.goroutines)
		}
		return m
	}
	w := len(samples) / 5
	early, late := floor(samples[w:min(w+5, len(samples))]), floor(samples[max(len(samples)-5, w):])
	if late > early+10 {
		t.Errorf("goroutines grew: at least %d after warm-up, at least %d at the end", early, late)
	}
	if last.fds > warm.fds+5 {
		t.Errorf("open files grew from %d after warm-up to %d", warm.fds, last.fds)
	}
	t.Logf("after warm-up (%d top-ups): RSS %d → %d kB (peak %d), goroutines at least %d → at least %d, open files %d → %d",
		warm.topUps, warm.rssKB, last.rssKB, peakRSS, early, late, warm.fds, last.fds)
}

// soakToInsertCash is toInsertCash through whichever confirmation the
// flapping bank leads to: the wallet's name, or the offline one (the number
// typed again).
func soakToInsertCash(k *simKiosk) {
	k.t.Helper()
	k.waitState("idle")
	k.send("KEY OK")
	k.waitState("enter_phone")
	k.keys("7011234567")
	k.waitScreen("the typed number", func(s screenMsg) bool { return screenHas(s, "+7 (701) 123-45-67") })
	k.send("KEY OK")
	s := k.waitScreen("a confirmation", func(s screenMsg) bool { return s.State == "confirm" || s.State == "confirm_offline" })
	if s.State == "confirm_offline" {
		k.keys("7011234567")
		k.waitScreen("the number typed again", func(s screenMsg) bool { return screenHas(s, "+7 (701) 123-45-67") })
	}
	k.send("KEY OK")
	k.waitState("insert_cash")
}

func procStatus(t *testing.T, pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func countFDs(t *testing.T, pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// scrape reads the named unlabelled metrics from the daemon's /metrics.
func scrape(t *testing.T, addr string, names ...string) []float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	vals := make([]float64, len(names))
	seen := make([]bool, len(names))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		for i, name := range names {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				vals[i], _ = strconv.ParseFloat(v, 64)
				seen[i] = true
			}
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("no %s in /metrics", names[i])
		}
	}
	return vals
}
