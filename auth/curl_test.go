package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNTLMServerWithCurl checks NTLMServer against a second independent
// NTLMv2 client, curl's, over HTTP NTLM authentication (the same
// NEGOTIATE/CHALLENGE/AUTHENTICATE messages MMS carries in pToken).
func TestNTLMServerWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	srv := &NTLMServer{Lookup: SingleUser("alice", "s3cret"), TargetName: "MMSD"}
	var mu sync.Mutex
	pending := map[string]*NTLMChallenge{} // by client address: NTLM is per connection
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "NTLM ")
		msg, err := base64.StdEncoding.DecodeString(tok)
		if tok == "" || err != nil {
			w.Header().Set("WWW-Authenticate", "NTLM")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch MessageType(msg) {
		case 1:
			c, chal, err := srv.Challenge(msg)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			pending[r.RemoteAddr] = c
			w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(chal))
			w.WriteHeader(http.StatusUnauthorized)
		case 3:
			c := pending[r.RemoteAddr]
			delete(pending, r.RemoteAddr)
			if c == nil {
				http.Error(w, "no challenge", http.StatusBadRequest)
				return
			}
			res, err := c.Authenticate(msg)
			if err != nil {
				t.Logf("curl authentication: %v", err)
				w.WriteHeader(http.StatusForbidden)
				return
			}
			w.Write([]byte("hello " + res.User))
		default:
			http.Error(w, "bad message", http.StatusBadRequest)
		}
	})
	hs := httptest.NewServer(h)
	defer hs.Close()
	for _, tc := range []struct {
		cred string
		want string
	}{
		{"alice:s3cret", "200"},
		{"ALICE:s3cret", "200"},
		{`WORKGROUP\alice:s3cret`, "200"},
		{"alice:wrong", "403"},
		{"bob:s3cret", "403"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--ntlm", "-u", tc.cred, hs.URL).Output()
		cancel()
		if err != nil {
			t.Fatalf("curl %s: %v", tc.cred, err)
		}
		if got := string(out); got != tc.want {
			t.Errorf("curl -u %s: HTTP %s, want %s", tc.cred, got, tc.want)
		}
	}
}
