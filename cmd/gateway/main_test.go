package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/store"
)

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"MMSGATE_MAX_VIEWERS": "7", "MMSGATE_PRIVATE": "true", "MMSGATE_ADDR": ":9999",
		"MMSGATE_ALLOW_UPSTREAM": "10.0.0.0/8, 192.168.1.5", "MMSGATE_MMSH_PORT": "8081"}
	o, err := parse([]string{"-addr", ":1234"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxViewers != 7 || !o.private || o.addr != ":1234" {
		t.Fatalf("%+v", o)
	}
	cfg, err := o.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.AllowUpstream) != 2 || cfg.AllowUpstream[1].String() != "192.168.1.5/32" || cfg.Limits.MaxViewers != 7 ||
		cfg.MMSHPort != 8081 {
		t.Fatalf("%+v", cfg)
	}
	if _, err := parse(nil, func(k string) string { return map[string]string{"MMSGATE_GRACE": "soon"}[k] }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "MMSGATE_GRACE") {
		t.Fatalf("bad env: %v", err)
	}
	o, _ = parse([]string{"-allow-upstream", "nonsense"}, func(string) string { return "" }, io.Discard)
	if _, err := o.config(nil); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	var help bytes.Buffer
	if _, err := parse([]string{"--help"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"-addr (MMSGATE_ADDR)", "-allow-upstream (MMSGATE_ALLOW_UPSTREAM)", "-no-demo (MMSGATE_NO_DEMO)",
		"-database-url (MMSGATE_DATABASE_URL)", "-max-transcoders (MMSGATE_MAX_TRANSCODERS)", "-mmsh-port (MMSGATE_MMSH_PORT)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// gatewayBinary builds this command once per test binary.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

// syncBuffer is written by exec's copying goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, bin, data, dbURL string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr, "-data", data, "-no-demo", "-api-token", "tok-123456")
	cmd.Env = append(os.Environ(), "MMSGATE_DATABASE_URL="+dbURL)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gateway did not become ready: %s", logs.String())
	return nil
}

func (p *proc) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-123456")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestSurvivesKill creates and changes channels, kills the gateway with
// SIGKILL right after the answers, and finds them again after a restart;
// then the same after a graceful SIGTERM.
func TestSurvivesKill(t *testing.T) {
	bin := gatewayBinary(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := ""
			if db == "postgres" {
				url = store.PostgresTestURL(t)
			}
			data := t.TempDir()
			p := start(t, bin, data, url)
			for i := 0; i < 5; i++ {
				body := fmt.Sprintf(`{"name":"ch%d","url":"mms://example.com/%d","password":"pw-%d-secret"}`, i, i, i)
				if code, m := p.do(t, "POST", "/api/v1/channels", body); code != 201 {
					t.Fatalf("create: %d %v", code, m)
				}
			}
			if code, m := p.do(t, "PATCH", "/api/v1/channels/ch3", `{"language":"de","max_bandwidth":123456,"outputs":["llhls"]}`); code != 200 {
				t.Fatalf("patch: %d %v", code, m)
			}
			if code, _ := p.do(t, "DELETE", "/api/v1/channels/ch4", ""); code != 204 {
				t.Fatalf("delete: %d", code)
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.cmd.Wait()

			p = start(t, bin, data, url)
			code, m := p.do(t, "GET", "/api/v1/channels", "")
			if code != 200 || m["total"] != float64(4) {
				t.Fatalf("after kill -9: %d %v", code, m)
			}
			code, m = p.do(t, "GET", "/api/v1/channels/ch3", "")
			if code != 200 || m["language"] != "de" || m["max_bandwidth"] != float64(123456) || m["has_password"] != true ||
				fmt.Sprint(m["outputs"]) != "[llhls]" {
				t.Fatalf("ch3 after kill -9: %d %v", code, m)
			}
			if code, _ := p.do(t, "PATCH", "/api/v1/channels/ch0", `{"transcode":"never"}`); code != 200 {
				t.Fatalf("patch: %d", code)
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- p.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("graceful exit: %v\n%s", err, p.logs)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no exit after SIGTERM:\n%s", p.logs)
			}
			if !strings.Contains(p.logs.String(), "msg=stopped") {
				t.Errorf("no graceful stop in the log:\n%s", p.logs)
			}
			p = start(t, bin, data, url)
			if code, m := p.do(t, "GET", "/api/v1/channels/ch0", ""); code != 200 || m["transcode"] != "never" {
				t.Fatalf("ch0 after restart: %d %v", code, m)
			}
			for _, sp := range []string{"pw-0-secret", "pw-3-secret"} {
				if strings.Contains(p.logs.String(), sp) {
					t.Errorf("password in the log")
				}
			}
		})
	}
}
