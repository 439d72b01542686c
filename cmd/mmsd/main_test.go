package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-help"}, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-addr", "-dir", "-live", "-playlist", "-user", "-password", "-auth", "-redirect",
		"-drop-udp", "-rate", "-strip-padding", "-fast-start", "-end-timeout", "-max-conns", "-log-level"} {
		if !strings.Contains(out.String(), "  "+f+" ") && !strings.Contains(out.String(), "  "+f+"\n") {
			t.Errorf("--help does not document %s", f)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-strip-padding", "some"}, {"-auth", "kerberos"}, {"-drop-udp", "2"},
		{"-rate", "-1"}, {"-live", "nofile"}} {
		var out bytes.Buffer
		if code := run(args, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out.String())
		}
	}
}

// TestProcess runs the real binary: it serves a file to FFmpeg, logs with
// slog and stops cleanly on SIGTERM.
func TestProcess(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	bin := filepath.Join(t.TempDir(), "mmsd")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	spec := fixture.AudioOnly()
	spec.Duration = 2 * time.Second
	src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "a.wma"), b, 0o644)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-dir", dir, "-rate", "0", "-end-timeout", "1s", "-log-json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var addr string
	re := regexp.MustCompile(`"addr":"([0-9.:]+)"`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "listening") {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatal("no listening address logged")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	out := filepath.Join(t.TempDir(), "out.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", "mmst://"+addr+"/a.wma",
		"-c", "copy", "-f", "asf", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mmsd exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mmsd did not stop on SIGTERM")
	}
}
