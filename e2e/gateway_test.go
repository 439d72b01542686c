package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mmsgate/mmsgate/app"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

const token = "e2e-token-0123456789abcdef"

// gatewayUnderTest is the whole gateway (app.New with its embedded demo MMS
// server) on a loopback HTTP server.
type gatewayUnderTest struct {
	app  *app.App
	srv  *httptest.Server
	demo string

	mu       sync.Mutex
	inFlight map[*http.Request]time.Time // for the failure messages
}

// track records the requests in flight, so that a test that times out can
// say what the browser was waiting for.
func (g *gatewayUnderTest) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.inFlight[r] = time.Now()
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			delete(g.inFlight, r)
			g.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// pending lists the requests in flight, oldest first.
func (g *gatewayUnderTest) pending() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for r, t := range g.inFlight {
		out = append(out, fmt.Sprintf("%s %s (%v)", r.Method, r.URL, time.Since(t).Round(time.Millisecond)))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func startGateway(t *testing.T, configure ...func(*app.Config)) *gatewayUnderTest {
	t.Helper()
	ctx := context.Background()
	cfg := app.Config{
		DataDir:  t.TempDir(),
		APIToken: token,
		// The radio station of TestBrowser runs on loopback.
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range configure {
		f(&cfg)
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Logf("closing the gateway: %v", err)
		}
	})
	demo := a.DemoChannel()
	if demo == "" && !cfg.NoDemo {
		t.Fatal("the gateway started without its demo channel (is ffmpeg installed?)")
	}
	g := &gatewayUnderTest{app: a, demo: demo, inFlight: map[*http.Request]time.Time{}}
	g.srv = httptest.NewServer(g.track(a.Handler()))
	// Registered after the app's cleanup, so it runs before it; the
	// browser's cleanup (registered later still) runs first of all and ends
	// the event streams that would keep Close waiting.
	t.Cleanup(g.srv.Close)
	return g
}

// api calls the REST API with the token and decodes the JSON answer into out.
func (g *gatewayUnderTest) api(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// rowState is the JavaScript for the state shown in the channel list.
func rowState(name string) string {
	return fmt.Sprintf(`(document.querySelector('tr[data-name=%q]') || {dataset: {}}).dataset.state`, name)
}

// TestBrowser drives the UI in Chromium against the real gateway: one
// gateway and one browser for all the steps, which run in order.
func TestBrowser(t *testing.T) {
	g := startGateway(t)
	b := newBrowser(t)
	b.onFail = func() string { return "requests in flight at the gateway:\n" + g.pending() }
	base := g.srv.URL
	demo := g.demo
	t.Logf("gateway at %s, demo channel %q", base, demo)

	// The token is entered once, in the token dialog, and kept in the
	// browser's storage for the steps that follow.
	b.run("open the app", chromedp.Navigate(base+"/"))
	b.run("enter the token",
		chromedp.Click(chromedp.CSS("#token-button")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS(`#token-form button[value="save"]`)))
	b.waitJS("the token stored", fmt.Sprintf(`localStorage.getItem("mmsgate.token") === %q`, token), 10*time.Second)

	t.Run("list shows the demo channel", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the demo row", fmt.Sprintf(`!!document.querySelector('tr[data-name=%q] a.name')`, demo), 30*time.Second)
		b.waitJS("the demo channel live", rowState(demo)+` === "live"`, 90*time.Second)
		b.screenshot("channels")
		b.run("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.screenshot("channels-phone")
		b.run("desktop size", chromedp.EmulateViewport(1280, 900))
		b.checkConsole()
	})

	t.Run("player plays through hls.js", func(t *testing.T) {
		b.t = t
		// Pressing Play in the list: the time to the first frame is logged
		// (a measurement, not a pass/fail threshold).
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the demo channel live", rowState(demo)+` === "live"`, 60*time.Second)
		eval[bool](b, `document.addEventListener("playing", () => { window.__playingAt = window.__playingAt || performance.now(); }, true), true`)
		eval[bool](b, fmt.Sprintf(`window.__clickAt = performance.now(), document.querySelector('tr[data-name=%q] a.button').click(), true`, demo))
		b.waitJS("the player page", fmt.Sprintf(`location.pathname === "/channel/%s"`, demo), 10*time.Second)
		if !eval[bool](b, `Hls.isSupported()`) {
			t.Fatal("Hls.isSupported() is false in this Chromium")
		}
		b.waitJS("hls.js attached", `document.querySelector("video").dataset.engine === "hls.js"`, 30*time.Second)
		b.waitJS("playback", `(() => { const v = document.querySelector("video"); return v.currentTime > 0 && !v.paused; })()`, 60*time.Second)
		t0 := eval[float64](b, `document.querySelector("video").currentTime`)
		b.waitJS("3 s of playback", fmt.Sprintf(`document.querySelector("video").currentTime >= %f`, t0+3), 60*time.Second)
		t1 := eval[float64](b, `document.querySelector("video").currentTime`)
		t.Logf("video.currentTime went from %.2f to %.2f", t0, t1)
		t.Logf("Play pressed to first frame: %.0f ms", eval[float64](b, `window.__playingAt - window.__clickAt`))
		b.waitJS("buffer shown", `/^[0-9.]+ s$/.test(document.getElementById("fact-buffer").textContent)`, 10*time.Second)
		if w := eval[int](b, `document.querySelector("video").videoWidth`); w == 0 {
			t.Error("the demo video has no picture (videoWidth 0)")
		}
		b.run("copy the HLS URL", chromedp.Click(chromedp.CSS(`button[aria-label="Copy HLS URL"]`)))
		b.waitJS("the copy confirmed", `document.getElementById("toast").textContent === "HLS URL copied."`, 10*time.Second)
		b.screenshot("player")
		b.run("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.screenshot("player-phone")
		b.run("desktop size", chromedp.EmulateViewport(1280, 900))
		b.checkConsole()
	})

	t.Run("state change appears in the list without reload", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the demo channel live", rowState(demo)+` === "live"`, 60*time.Second)
		eval[bool](b, `window.__sameDocument = true`)
		if code := g.api(t, "POST", "/channels/"+demo+"/stop", nil); code >= 300 {
			t.Fatalf("stop: status %d", code)
		}
		b.waitJS("the demo channel no longer live", rowState(demo)+` !== "live"`, 30*time.Second)
		t.Logf("after stop the list shows %q", eval[string](b, rowState(demo)))
		b.waitJS("the change announced to screen readers", fmt.Sprintf(`document.getElementById("announcer").textContent.startsWith(%q)`, demo+" is "), 10*time.Second)
		if code := g.api(t, "POST", "/channels/"+demo+"/start", nil); code >= 300 {
			t.Fatalf("start: status %d", code)
		}
		b.waitJS("the demo channel live again", rowState(demo)+` === "live"`, 60*time.Second)
		if !eval[bool](b, `window.__sameDocument === true`) {
			t.Error("the page reloaded")
		}
		b.checkConsole()
	})

	t.Run("log viewer shows new events as they happen", func(t *testing.T) {
		b.t = t
		b.run("open the log", chromedp.Navigate(base+"/channel/"+demo+"/log"))
		b.waitJS("the running session's log", `document.querySelectorAll("#live-log li").length > 0`, 60*time.Second)
		eval[bool](b, `window.__sameDocument = true`)
		var before struct {
			Items []struct{ ID int64 } `json:"items"`
		}
		g.api(t, "GET", "/channels/"+demo+"/sessions", &before)
		var last int64
		for _, it := range before.Items {
			last = max(last, it.ID)
		}
		if last == 0 {
			t.Fatal("the API lists no session of the live demo channel")
		}
		start := time.Now().Add(-time.Second) // the browser's clock is this machine's
		if code := g.api(t, "POST", "/channels/"+demo+"/stop", nil); code >= 300 {
			t.Fatalf("stop: status %d", code)
		}
		if code := g.api(t, "POST", "/channels/"+demo+"/start", nil); code >= 300 {
			t.Fatalf("start: status %d", code)
		}
		// The viewer moves to the new session by itself and shows its
		// events as they come, stamped after the restart, without reload.
		b.waitJS("the new session's playing event", fmt.Sprintf(
			`Number(document.getElementById("live-log").dataset.session) > %d && !!document.querySelector("#live-log li.kind-playing")`, last), 60*time.Second)
		if !eval[bool](b, fmt.Sprintf(`[...document.querySelectorAll("#live-log li time")].every(t => Date.parse(t.getAttribute("datetime")) >= %d)`, start.UnixMilli())) {
			t.Error("the live log holds events from before the restart")
		}
		if !eval[bool](b, `window.__sameDocument === true`) {
			t.Error("the page reloaded")
		}
		// The stopped session is listed with its final statistics.
		b.waitJS("the stopped session among the past ones", fmt.Sprintf(`!!document.querySelector('#sessions-rows tr[data-id="%d"]')`, last), 30*time.Second)
		if n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('#sessions-rows tr[data-id="%d"] dl.stats dt').length`, last)); n == 0 {
			t.Error("the stopped session shows no statistics")
		}
		// Its stored log opens below the table.
		b.run("show the stopped session's log", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#sessions-rows tr[data-id="%d"] button`, last))))
		b.waitJS("the stored log", `document.querySelectorAll("#past-log li.kind-playing").length > 0`, 30*time.Second)
		b.screenshot("session-log")
		b.checkConsole()
	})

	t.Run("text contrast in the light and dark schemes", func(t *testing.T) {
		b.t = t
		for _, scheme := range []string{"light", "dark"} {
			b.run("scheme "+scheme, colorScheme(scheme))
			for _, page := range []string{"/", "/channel/" + demo + "/log", "/channel/" + demo} {
				b.run("open "+page, chromedp.Navigate(base+page))
				b.waitJS("the page filled in", `!!document.querySelector("h1") && !document.querySelector('.badge.state-unknown')`, 30*time.Second)
				for _, bad := range eval[[]string](b, lowContrastJS) {
					t.Errorf("%s, %s scheme: low contrast: %s", page, scheme, bad)
				}
			}
			if scheme == "dark" {
				b.screenshot("player-dark")
			}
		}
		b.run("scheme back", colorScheme("light"))
		b.checkConsole()
	})

	t.Run("channel created in the form appears in the API", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the list", fmt.Sprintf(`!!document.querySelector('tr[data-name=%q]')`, demo), 30*time.Second)
		b.run("open the form", chromedp.Click(chromedp.CSS("#add-channel")))
		b.waitJS("the dialog", `document.getElementById("channel-dialog").open`, 10*time.Second)
		// Invalid input is refused in the browser.
		b.run("fill in wrong values",
			chromedp.SendKeys(chromedp.CSS("#f-name"), "bad name!"),
			chromedp.SendKeys(chromedp.CSS("#f-url"), "ftp://example.com/x"),
			chromedp.Click(chromedp.CSS("#channel-submit")))
		b.waitJS("the errors", `document.getElementById("f-name-err").textContent !== "" && document.getElementById("f-url-err").textContent !== ""`, 10*time.Second)
		if !eval[bool](b, `document.getElementById("channel-dialog").open && document.getElementById("f-url").getAttribute("aria-invalid") === "true"`) {
			t.Error("the form accepted invalid values")
		}
		b.screenshot("channel-form-errors")
		const password = "s3cret-e2e-pw"
		// (chromedp.Clear only resets the value attribute of a typed-in input.)
		eval[bool](b, `document.getElementById("f-name").value = document.getElementById("f-url").value = "", true`)
		b.run("fill in good values",
			chromedp.SendKeys(chromedp.CSS("#f-name"), "e2e-form"),
			chromedp.SendKeys(chromedp.CSS("#f-url"), "mms://media.example.com/live"),
			chromedp.SendKeys(chromedp.CSS("#f-username"), "viewer"),
			chromedp.SendKeys(chromedp.CSS("#f-password"), password),
			chromedp.SendKeys(chromedp.CSS("#f-mmsh-port"), "8080"),
			chromedp.Click(chromedp.CSS("#channel-submit")))
		b.waitJS("the dialog closed", `!document.getElementById("channel-dialog").open`, 30*time.Second)
		b.waitJS("the new row", `!!document.querySelector('tr[data-name="e2e-form"]')`, 30*time.Second)
		var ch map[string]any
		if code := g.api(t, "GET", "/channels/e2e-form", &ch); code != 200 {
			t.Fatalf("GET the new channel: status %d", code)
		}
		if ch["url"] != "mms://media.example.com/live" || ch["username"] != "viewer" || ch["on_demand"] != true || ch["has_password"] != true ||
			ch["mmsh_port"] != 8080.0 {
			t.Errorf("the API has %v", ch)
		}
		raw, _ := json.Marshal(ch)
		if strings.Contains(string(raw), password) {
			t.Error("the API returned the password")
		}
		b.checkConsole()
	})

	t.Run("edit keeps the password, delete removes the channel", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the e2e-form row", `!!document.querySelector('tr[data-name="e2e-form"]')`, 30*time.Second)
		b.run("edit", chromedp.Click(chromedp.CSS(`tr[data-name="e2e-form"] button[aria-label="Edit e2e-form"]`)))
		b.waitJS("the filled-in form", `document.getElementById("channel-dialog").open && document.getElementById("f-url").value === "mms://media.example.com/live"`, 10*time.Second)
		if got := eval[string](b, `document.getElementById("f-password").value + "|" + document.getElementById("f-name").readOnly`); got != "|true" {
			t.Errorf("password field and name read-only: %q, want an empty password and a read-only name", got)
		}
		eval[bool](b, `document.getElementById("f-url").value = "", true`)
		b.run("change the URL",
			chromedp.SendKeys(chromedp.CSS("#f-url"), "mms://media.example.com/other"),
			chromedp.Click(chromedp.CSS("#channel-submit")))
		b.waitJS("the dialog closed", `!document.getElementById("channel-dialog").open`, 30*time.Second)
		var ch map[string]any
		g.api(t, "GET", "/channels/e2e-form", &ch)
		if ch["url"] != "mms://media.example.com/other" || ch["has_password"] != true || ch["username"] != "viewer" || ch["mmsh_port"] != 8080.0 {
			t.Errorf("after the edit the API has %v (the password must stay)", ch)
		}
		b.run("delete", chromedp.Click(chromedp.CSS(`tr[data-name="e2e-form"] button[aria-label="Delete e2e-form"]`)))
		b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 10*time.Second)
		b.run("confirm", chromedp.Click(chromedp.CSS("#confirm-yes")))
		b.waitJS("the row gone", `!document.querySelector('tr[data-name="e2e-form"]')`, 30*time.Second)
		if code := g.api(t, "GET", "/channels/e2e-form", nil); code != http.StatusNotFound {
			t.Errorf("after the delete the API answers %d", code)
		}
		b.checkConsole()
	})

	t.Run("labels, keyboard and Play a URL", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the list", fmt.Sprintf(`!!document.querySelector('tr[data-name=%q]')`, demo), 30*time.Second)
		// Every control has an accessible name: a label, aria-label or text.
		unnamed := eval[[]string](b, `[...document.querySelectorAll("input, select, textarea, button, a[href]")].filter(el => {
			if (el.type === "hidden") return false;
			if (el.labels && el.labels.length) return false;
			if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) return false;
			if ((el.tagName === "BUTTON" || el.tagName === "A") && el.textContent.trim()) return false;
			return true;
		}).map(el => el.outerHTML.slice(0, 120))`)
		for _, u := range unnamed {
			t.Errorf("control without an accessible name: %s", u)
		}
		// The first Tab reaches the skip link; Enter on "Add channel" opens
		// the form with the focus in it, Escape closes it.
		b.run("tab", chromedp.KeyEvent(kb.Tab))
		if got := eval[string](b, `document.activeElement.className`); got != "skip" {
			t.Errorf("the first Tab stop is %q, want the skip link", got)
		}
		eval[bool](b, `document.getElementById("add-channel").focus(), true`)
		b.run("enter", chromedp.KeyEvent(kb.Enter))
		b.waitJS("the dialog open with focus inside", `document.getElementById("channel-dialog").open && document.getElementById("channel-dialog").contains(document.activeElement)`, 10*time.Second)
		b.run("escape", chromedp.KeyEvent(kb.Escape))
		b.waitJS("the dialog closed", `!document.getElementById("channel-dialog").open`, 10*time.Second)
		// Play a URL with the demo's upstream reuses the demo channel.
		var ch struct {
			URL string `json:"url"`
		}
		g.api(t, "GET", "/channels/"+demo, &ch)
		if ch.URL == "" {
			t.Fatal("the API gave no URL for the demo channel")
		}
		var before, after struct {
			Total int `json:"total"`
		}
		g.api(t, "GET", "/channels", &before)
		b.run("play a URL", chromedp.SendKeys(chromedp.CSS("#play-url"), ch.URL+kb.Enter))
		b.waitJS("the demo's player page", fmt.Sprintf(`location.pathname === "/channel/%s"`, demo), 30*time.Second)
		b.waitJS("hls.js attached", `document.querySelector("video") && document.querySelector("video").dataset.engine === "hls.js"`, 30*time.Second)
		g.api(t, "GET", "/channels", &after)
		if after.Total != before.Total {
			t.Errorf("Play a URL of an existing channel's upstream went from %d to %d channels", before.Total, after.Total)
		}
		b.checkConsole()
	})

	t.Run("radio plays in the audio player", func(t *testing.T) {
		b.t = t
		url := startRadio(t)
		if code := g.postJSON(t, "/channels", fmt.Sprintf(`{"name":"radio","url":%q,"on_demand":false}`, url)); code != http.StatusCreated {
			t.Fatalf("creating the radio channel: status %d", code)
		}
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the radio channel live", rowState("radio")+` === "live"`, 90*time.Second)
		b.run("open the radio", chromedp.Navigate(base+"/channel/radio"))
		b.waitJS("the audio player", `!document.getElementById("radio").hidden && document.querySelector("video").classList.contains("audio-only")`, 60*time.Second)
		b.waitJS("playback", `(() => { const v = document.querySelector("video"); return v.currentTime > 0 && !v.paused; })()`, 60*time.Second)
		t0 := eval[float64](b, `document.querySelector("video").currentTime`)
		b.waitJS("2 s of radio", fmt.Sprintf(`document.querySelector("video").currentTime >= %f`, t0+2), 60*time.Second)
		if title := eval[string](b, `document.getElementById("radio-title").textContent`); title == "" {
			t.Error("the radio card has no title")
		}
		b.screenshot("radio")
		// The embed page shows the station instead of a black picture.
		b.run("open the radio's embed page", chromedp.Navigate(base+"/embed/radio?autoplay=1"))
		b.waitJS("the station card", `!document.getElementById("overlay").hidden && document.getElementById("meta-title").textContent !== ""`, 60*time.Second)
		b.waitJS("playback", `(() => { const v = document.querySelector("video"); return v.currentTime > 0 && !v.paused; })()`, 60*time.Second)
		b.screenshot("radio-embed")
		b.checkConsole()
	})

	t.Run("embed and video snippets play on another origin", func(t *testing.T) {
		b.t = t
		b.run("open the app", chromedp.Navigate(base+"/"))
		b.waitJS("the demo channel live", rowState(demo)+` === "live"`, 60*time.Second)
		// The snippets exactly as the player page offers them to copy.
		b.run("open the player", chromedp.Navigate(base+"/channel/"+demo))
		b.waitJS("the snippets", `!!document.getElementById("snippet-iframe")`, 30*time.Second)
		iframeSnippet := eval[string](b, `document.getElementById("snippet-iframe").value`)
		videoSnippet := eval[string](b, `document.getElementById("snippet-video").value`)
		if !strings.Contains(iframeSnippet, base+"/embed/"+demo+"?autoplay=1") {
			t.Fatalf("iframe snippet: %s", iframeSnippet)
		}
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			snippet := iframeSnippet
			if r.URL.Path == "/video" {
				snippet = videoSnippet
			}
			fmt.Fprintf(w, `<!doctype html><html><head><title>another site</title><link rel="icon" href="data:,">
<script>
window.__msgs = [];
window.addEventListener("message", (e) => { if (e.data && e.data.source === "mmsgate") window.__msgs.push(e.data); });
</script></head>
<body><h1>Another site</h1>
%s
</body></html>`, snippet)
		}))
		t.Cleanup(other.Close)
		// localhost vs 127.0.0.1: another origin and another site.
		page := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
		b.run("open the other site", chromedp.Navigate(page+"/"))
		opened := time.Now()
		b.waitJS("playback in the iframe", `window.__msgs.some(m => m.event === "playing")`, 60*time.Second)
		b.waitJS("3 s of playback in the iframe", `(() => {
			const p = window.__msgs.filter(m => m.event === "timeupdate" || m.event === "playing");
			return p.length > 1 && p[p.length - 1].currentTime - p[0].currentTime >= 3;
		})()`, 60*time.Second)
		if eng := eval[string](b, `window.__msgs[window.__msgs.length - 1].engine`); eng != "hls.js" {
			t.Errorf("the embed played with %q", eng)
		}
		if o := eval[string](b, `location.origin`); strings.Contains(base, strings.TrimPrefix(o, "http://")) {
			t.Fatalf("the test page is on the gateway's origin %s", o)
		}
		t.Logf("iframe messages after %v: %s", time.Since(opened).Round(time.Millisecond),
			eval[string](b, `JSON.stringify(window.__msgs.map(m => [m.event, +m.currentTime.toFixed(2)]).slice(0, 40))`))
		if !eval[bool](b, `window.__msgs[window.__msgs.length - 1].muted`) {
			t.Error("autoplay in the iframe is not muted")
		}
		b.screenshot("embed-iframe")
		b.checkConsole()

		// The plain <video> with hls.js, loading the script and the stream
		// from the gateway across origins (the media routes' CORS).
		b.run("open the video snippet", chromedp.Navigate(page+"/video"))
		opened = time.Now()
		b.waitJS("playback of the snippet", `(() => { const v = document.querySelector("video"); return v && v.currentTime > 0 && !v.paused; })()`, 60*time.Second)
		t0 := eval[float64](b, `document.querySelector("video").currentTime`)
		b.waitJS("3 s of the snippet", fmt.Sprintf(`document.querySelector("video").currentTime >= %f`, t0+3), 60*time.Second)
		t.Logf("the video snippet played 3 s within %v", time.Since(opened).Round(time.Millisecond))
		b.screenshot("embed-video-snippet")
		b.checkConsole()
	})
}

// startRadio serves a WMA-only clip (a radio station, as most mms:// streams
// were) looped live from an mmsserver on loopback; it returns its URL.
func startRadio(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := fixture.AudioOnly()
	spec.Duration = 6 * time.Second
	clip, err := fixture.Generate(ctx, fixture.CacheDir(), spec)
	if err != nil {
		t.Fatalf("radio clip: %v", err)
	}
	srv := &mmsserver.Server{}
	if err := srv.AddLive("radio", clip); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "mms://" + ln.Addr().String() + "/radio"
}

// postJSON sends body to the API with the token; it returns the status.
func (g *gatewayUnderTest) postJSON(t *testing.T, path, body string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", g.srv.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Logf("POST %s: %d %s", path, res.StatusCode, b)
	}
	return res.StatusCode
}

// TestPrivateGateway: with -private every read needs the token. The UI says
// so, takes the token in its dialog, keeps it, and from then on reads the
// list and its event stream with it (EventSource could not send it).
func TestPrivateGateway(t *testing.T) {
	g := startGateway(t, func(c *app.Config) { c.Private, c.NoDemo = true, true })
	b := newBrowser(t)
	b.run("open the app", chromedp.Navigate(g.srv.URL+"/"))
	b.waitJS("the refusal explained", `document.querySelector("main .form-error button") !== null`, 30*time.Second)
	// The browser reports each 401 as a failed resource; those are expected.
	b.mu.Lock()
	for _, e := range b.errors {
		if !strings.Contains(e, "401") || !strings.Contains(e, "/api/v1/") {
			t.Errorf("unexpected console error: %s", e)
		}
	}
	b.errors = nil
	b.mu.Unlock()
	b.run("enter the token",
		chromedp.Click(chromedp.CSS("main .form-error button")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token+kb.Enter))
	b.waitJS("the empty list", `!document.getElementById("channels-empty").hidden && document.querySelector("main .form-error").textContent === ""`, 30*time.Second)
	if code := g.postJSON(t, "/channels", `{"name":"private-one","url":"mms://media.example.com/live","on_demand":true}`); code != http.StatusCreated {
		t.Fatalf("create: status %d", code)
	}
	b.waitJS("the new channel, from the authorised event stream", `!!document.querySelector('tr[data-name="private-one"]')`, 30*time.Second)
	b.screenshot("private-after-token")
	b.checkConsole()
}
