package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenGenerated: without a configured token one is generated, stored
// with owner-only permissions, printed once, and reused after a restart.
func TestTokenGenerated(t *testing.T) {
	dir := t.TempDir()
	var console bytes.Buffer
	a, err := New(context.Background(), Config{DataDir: dir, NoDemo: true, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	tok := a.APIToken()
	a.Close(context.Background())
	if len(tok) < 32 || !strings.Contains(console.String(), tok) {
		t.Fatalf("token %q, console %q", tok, console.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "api-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi.Mode(), err)
	}
	console.Reset()
	a, err = New(context.Background(), Config{DataDir: dir, NoDemo: true, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if a.APIToken() != tok || console.Len() != 0 {
		t.Fatalf("second start: %q, console %q", a.APIToken(), console.String())
	}
}

// TestDemo: the embedded demo channel plays from the in-process server
// without any allow-list exception for loopback.
func TestDemo(t *testing.T) {
	h264Clip(t) // skips without ffmpeg
	a, err := New(context.Background(), Config{DataDir: t.TempDir(), Console: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if a.DemoChannel() != "demo" {
		t.Fatalf("demo channel %q", a.DemoChannel())
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, err := a.Gateway().Status("demo")
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "live" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := a.Gateway().Status("demo")
	t.Fatalf("demo not live: %+v", st)
}
