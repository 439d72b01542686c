package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mmsgate/mmsgate/web"
)

// TestEventStreamReader runs the UI's server-sent-event reader (stream() in
// web/static/js/api.js) in Chromium against a server that frames events in
// every way the format allows: CRLF and CR line ends, events split across
// writes, comments, multi-line data, an id, then a dropped connection; the
// reader must deliver each event once, whole, and reconnect with
// Last-Event-ID.
func TestEventStreamReader(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	mux := http.NewServeMux()
	mux.Handle("/static/", web.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><link rel="icon" href="data:,"><script type="module">
import { stream } from "/static/js/api.js";
window.__got = [];
window.__opens = 0;
const abort = new AbortController();
stream("/test-events", {
  signal: abort.signal,
  onOpen: () => { window.__opens++; },
  onMessage: (type, data) => {
    window.__got.push([type, data]);
    if (type === "done") abort.abort();
  },
});
</script>`)
	})
	mux.HandleFunc("GET /api/v1/test-events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		if r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "wants text/event-stream", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		write := func(s string) {
			fmt.Fprint(w, s)
			f.Flush()
			time.Sleep(20 * time.Millisecond) // separate network reads, not synchronisation
		}
		if n == 1 {
			write("retry: 300\n: a comment\r\n")
			write("event: state\r\ndata: {\"channel\":")
			write("\"demo\",\"state\":\"live\"}\r\n\r\n")
			write("data: line one\rdata: line two\r\r")
			write("data: a CRLF split\r")
			write("\ndata: across writes\r\n\r\n")
			write("id: 7\nevent: created\ndata: {\"channel\":\"x\"}\n\n")
			write("data: {\"partial\": tr") // cut off: never delivered
			return                          // the server drops the connection
		}
		write("event: done\ndata: {}\n\n")
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := newBrowser(t)
	b.run("open", chromedp.Navigate(srv.URL+"/"))
	b.waitJS("all events", `window.__got.length >= 5 && window.__got[window.__got.length - 1][0] === "done"`, 30*time.Second)
	got := eval[string](b, `JSON.stringify(window.__got)`)
	want := `[["state",{"channel":"demo","state":"live"}],["message","line one\nline two"],["message","a CRLF split\nacross writes"],["created",{"channel":"x"}],["done",{}]]`
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	if opens := eval[int](b, `window.__opens`); opens != 2 {
		t.Errorf("%d connections opened, want 2", opens)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(lastIDs, ",") != ",7" {
		t.Errorf("Last-Event-ID per connection: %q, want none then 7", lastIDs)
	}
	b.checkConsole()
}
