// Package e2e holds the browser tests: the system's Chromium (Debian's
// /usr/bin/chromium, headless), driven with chromedp, against the gateway
// started in-process on loopback. Nothing downloads a browser.
//
// Screenshots of the main pages are written to e2e/screenshots/ (gitignored;
// the path is logged) for people to look at; they are not compared.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// browser is one headless Chromium with one tab, collecting every console
// error, uncaught exception and failed-resource log entry of every frame.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string

	// onFail, when set, adds to the message of a failed wait.
	onFail func() string
}

// chromiumPath finds the system's Chromium; the tests skip only when it is
// not installed at all.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("MMSGATE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("chromium is not installed (apt-get install chromium); the browser tests need it")
	return ""
}

// newBrowser starts Chromium for the test and stops it at cleanup.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers often have a small /dev/shm
		chromedp.Flag("password-store", "basic"),
		// Cross-site iframes share the page's process, so that their console
		// errors reach the same listener as the page's.
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process,Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	b := &browser{t: t, ctx: ctx}
	// The first run starts the browser; it has no deadline, because a
	// deadline on it would stop the whole browser when it expires.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// Console subscribes at once; the goroutine ends with the context.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
			b.mu.Unlock()
		}
	}()
	return b
}

// checkConsole fails the test for every console error seen so far.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("browser console error: %s", e)
	}
	b.errors = nil
}

// run runs chromedp actions with a generous deadline (a loaded 2-core CI
// machine can be slow) and fails the test on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.checkConsole()
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and returns its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.checkConsole()
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is true in the page; the
// browser polls it (chromedp.Poll), no sleep stands in for a signal.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+10*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](
			`document.title + " | " + location.href + " | " + (document.body ? document.body.innerText.slice(0, 1500) : "")`))
		b.checkConsole()
		extra := ""
		if b.onFail != nil {
			extra = b.onFail()
		}
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s\n%s", what, expr, err, state, extra)
	}
}

// screenshotDir is where the pages' pictures go: e2e/screenshots/.
func screenshotDir(t *testing.T) string {
	dir, err := filepath.Abs("screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the whole page as name.png (PNG: quality 100) in screenshotDir.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(screenshotDir(b.t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// TestConsoleErrorsAreCaught checks the harness itself: a console.error, an
// uncaught exception and a failed resource load in the page, and one in a
// cross-site iframe, must all reach checkConsole, or the other tests could
// not fail on them.
func TestConsoleErrorsAreCaught(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			frame := strings.Replace(srvURL(r), "127.0.0.1", "localhost", 1) + "/frame"
			fmt.Fprintf(w, `<!doctype html><link rel="icon" href="data:,"><script>console.error("e2e-console-error");
setTimeout(() => { throw new Error("e2e-uncaught") }, 0);</script><img src="/missing.png" alt="">
<iframe src="%s"></iframe>`, frame)
		case "/frame":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><script>console.error("e2e-frame-error")</script>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	b := newBrowser(t)
	b.run("open", chromedp.Navigate(srv.URL+"/"))
	want := []string{"e2e-console-error", "e2e-uncaught", "missing.png", "e2e-frame-error"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.mu.Lock()
		all := strings.Join(b.errors, "\n")
		b.mu.Unlock()
		missing := ""
		for _, w := range want {
			if !strings.Contains(all, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the harness did not see %q; it saw:\n%s", missing, all)
		}
		time.Sleep(50 * time.Millisecond) // the messages arrive on their own; nothing to wait on
	}
	b.mu.Lock()
	b.errors = nil // seen as intended
	b.mu.Unlock()
}

func srvURL(r *http.Request) string { return "http://" + r.Host }

// colorScheme makes the page see prefers-color-scheme: scheme ("light" or "dark").
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// lowContrastJS lists the visible texts whose colour against the background
// behind them is below WCAG 2 AA: 4.5:1, or 3:1 for large text (24 px, or
// 18.66 px bold). The background is the first ancestor's opaque one.
const lowContrastJS = `(() => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c && c.a >= 0.5) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || el.closest("[hidden], .visually-hidden, .toast, video, dialog:not([open])")) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || Number(cs.opacity) === 0) continue;
    const fg = parse(cs.color), bg = behind(el);
    if (!fg) continue;
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(el.tagName + "." + el.className + " '" + el.textContent.trim().slice(0, 40) + "' " + ratio.toFixed(2) + ":1 (" + cs.color + " on " + JSON.stringify(bg) + ")");
  }
  return bad;
})()`
