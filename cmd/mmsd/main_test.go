package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsh"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-help"}, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-addr", "-http-addr", "-dir", "-live", "-playlist", "-user", "-password", "-auth", "-redirect",
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

// TestProcessMMSH runs the real binary with -http-addr: FFmpeg records a
// file over mmsh:// with every packet, our MMSH client plays the live
// broadcast and a playlist across its entry change, and SIGTERM stops
// mmsd while an MMSH viewer is connected.
func TestProcessMMSH(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	bin := filepath.Join(t.TempDir(), "mmsd")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	dir := t.TempDir()
	var files []string
	for _, spec := range []fixture.Spec{fixture.AudioOnly(), fixture.WMV2()} {
		spec.Duration = 3 * time.Second
		src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(src)
		p := filepath.Join(dir, fmt.Sprintf("f%d%s", len(files), filepath.Ext(src)))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-dir", dir, "-rate", "8",
		"-live", "live="+files[1], "-playlist", "list="+files[0]+","+files[1], "-log-json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var httpAddr string
	re := regexp.MustCompile(`"addr":"([0-9.:]+)"`)
	for httpAddr == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "MMSH listening") {
			httpAddr = m[1]
		}
	}
	if httpAddr == "" {
		t.Fatal("no MMSH listening address logged")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	base := "mmsh://" + httpAddr + "/"

	out := filepath.Join(t.TempDir(), "out.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", base+filepath.Base(files[1]),
		"-c", "copy", "-map", "0", "-f", "asf", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	ref := filepath.Join(t.TempDir(), "ref.asf")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", files[1], "-c", "copy", "-map", "0",
		"-f", "asf", ref).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg remux: %v\n%s", err, b)
	}
	if want, got := probePackets(t, ref), probePackets(t, out); len(want) == 0 || !slices.Equal(want, got) {
		t.Errorf("FFmpeg over MMSH recorded %d packets, want the file's %d, all equal", len(got), len(want))
	}

	// The playlist: both entries, one entry change.
	pl, err := mmsh.Dial(ctx, base+"list", mmsh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	headers, n := 0, 0
	for {
		it, err := pl.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("playlist after %d packets: %v", n, err)
		}
		if it.Header != nil {
			headers++
		}
		if it.Packet != nil {
			n++
		}
	}
	pl.Close()
	if headers != 1 || pl.Stats().Entries != 2 || n == 0 {
		t.Errorf("playlist: %d entry changes, %d entries, %d packets", headers, pl.Stats().Entries, n)
	}

	// The live broadcast, left connected while mmsd stops.
	live, err := mmsh.Dial(ctx, base+"live", mmsh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if !live.Live() {
		t.Error("live broadcast not announced as live")
	}
	for i := range 20 {
		if _, err := live.Next(ctx); err != nil {
			t.Fatalf("live packet %d: %v", i, err)
		}
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
		t.Fatal("mmsd did not stop on SIGTERM with an MMSH viewer connected")
	}
}

// probePackets lists "stream,pts,hash" per timed packet.
func probePackets(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_packets", "-show_data_hash", "md5",
		"-show_entries", "packet=stream_index,pts,data_hash", "-of", "csv", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, ",N/A,") {
			lines = append(lines, l)
		}
	}
	return lines
}
