package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// FuzzChannelBody sends arbitrary bodies to the channel writes: the answer
// is a JSON error or a success, never a 5xx, and never echoes a password.
func FuzzChannelBody(f *testing.F) {
	for _, s := range []string{`{"name":"a","url":"mms://example.com/x"}`, `{"name":"a","url":"mms://10.0.0.1/x"}`,
		`{"name":"a","url":"mms://u:p@example.com/x","password":"zz-secret"}`, `{`, `[]`, `{"outputs":["hls","x"]}`,
		`{"name":"a","url":"mms://example.com/x","max_bandwidth":1e30}`, "\x00\xff"} {
		f.Add(s, "POST")
		f.Add(s, "PATCH")
	}
	e := newEnv(f, false)
	a, _ := New(Config{Gateway: e.g, Token: testToken})
	r := chi.NewRouter()
	a.Mount(r)
	f.Fuzz(func(t *testing.T, body, method string) {
		path := "/api/v1/channels"
		if method != "POST" {
			path += "/a"
			method = "PATCH"
		}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, body, w.Code, w.Body)
		}
		if w.Code >= 400 && !strings.HasPrefix(w.Body.String(), `{"error":{"code":`) {
			t.Fatalf("not a JSON error: %s", w.Body)
		}
		if strings.Contains(w.Body.String(), "zz-secret") {
			t.Fatalf("password echoed: %s", w.Body)
		}
		if w.Code == http.StatusCreated {
			e.g.Delete(req.Context(), "a")
		}
	})
}
