package asx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsh"
)

func metaServer(t *testing.T, files map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big.asx":
			w.Write([]byte(`<ASX version="3.0"><TITLE>`))
			w.Write([]byte(strings.Repeat("x", 2<<20)))
			return
		case "/stream.asf": // endless media: must not be downloaded
			w.Header().Set("Content-Type", "video/x-ms-asf")
			hdr := []byte{0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C}
			for r.Context().Err() == nil {
				if _, err := w.Write(append(hdr, make([]byte, 4096)...)); err != nil {
					return
				}
			}
			return
		case "/stall.asx":
			w.Write([]byte("<ASX>"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		case "/redirect.asx":
			http.Redirect(w, r, "/radio.asx", http.StatusFound)
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/x-ms-asf")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchResolve(t *testing.T) {
	files := map[string]string{
		"/radio.asx": `<asx version="3.0"><title>Radio</title><author>Station</author>
			<entry><ref href="mms://dead.invalid/a"/><ref href="/nested.wax"/></entry>
			<entryref href="/more.asx"/><entryref href="/missing.asx"/><entryref href="/radio.asx"/></asx>`,
		"/nested.wax": `<asx version="3.0"><entry><ref href="mms://nested.invalid/n"/></entry></asx>`,
		"/more.asx":   "[Reference]\nRef1=http://more.invalid/m.asf\n",
	}
	srv := metaServer(t, files)
	var dials atomic.Int32
	opts := FetchOptions{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	res, err := Resolve(context.Background(), srv.URL+"/redirect.asx", opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mms://dead.invalid/a", "mms://nested.invalid/n", "http://more.invalid/m.asf"}
	if !slices.Equal(res.URLs, want) || res.Title != "Radio" || res.Author != "Station" {
		t.Errorf("got %+v, want URLs %v", res, want)
	}
	if dials.Load() == 0 {
		t.Error("DialContext hook not used")
	}
}

func TestFetchLimits(t *testing.T) {
	srv := metaServer(t, nil)
	ctx := context.Background()
	if _, err := Fetch(ctx, srv.URL+"/big.asx", FetchOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big: %v", err)
	}
	start := time.Now()
	if _, err := Fetch(ctx, srv.URL+"/stream.asf", FetchOptions{}); !errors.Is(err, ErrNotMetafile) {
		t.Errorf("media: %v", err)
	}
	if _, err := Fetch(ctx, srv.URL+"/stall.asx", FetchOptions{Timeout: 300 * time.Millisecond}); err == nil {
		t.Error("stalled fetch succeeded")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	veto := errors.New("private address")
	_, err := Fetch(ctx, srv.URL+"/redirect.asx", FetchOptions{AllowHost: func(h string) error { return veto }})
	if !errors.Is(err, ErrHostRefused) || !errors.Is(err, veto) {
		t.Errorf("veto: %v", err)
	}
	calls := 0
	_, err = Fetch(ctx, srv.URL+"/redirect.asx", FetchOptions{AllowHost: func(string) error {
		if calls++; calls > 1 {
			return veto
		}
		return nil
	}})
	if !errors.Is(err, veto) {
		t.Errorf("vetoed redirect hop: %v", err)
	}
	if _, err := Fetch(ctx, "mms://host/x.asx", FetchOptions{}); err == nil {
		t.Error("fetched an mms:// URL")
	}
}

// TestResolveThenPlay: an ASX whose first reference is dead and whose
// second is an MMSH server plays from the second, with the ASX title.
func TestResolveThenPlay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, err := fixture.Generate(ctx, fixture.CacheDir(), fixture.AudioOnly())
	if err != nil {
		t.Fatal(err)
	}
	media := httptest.NewServer(&mmsh.Handler{Dir: filepath.Dir(src), Unpaced: true})
	defer media.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	asxDoc := fmt.Sprintf(`<ASX VERSION="3.0"><TITLE>Test Channel</TITLE><ENTRY>
		<REF HREF="mmsh://%s/gone"/><REF HREF="mmsh://%s/%s"/></ENTRY></ASX>`, deadAddr, strings.TrimPrefix(media.URL, "http://"), filepath.Base(src))
	srv := metaServer(t, map[string]string{"/channel.asx": asxDoc})
	res, err := Resolve(ctx, srv.URL+"/channel.asx", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var played, tried int
	for _, u := range res.URLs {
		tried++
		s, err := mmsh.Dial(ctx, u, mmsh.Options{StepTimeout: 2 * time.Second})
		if err != nil {
			continue
		}
		for {
			it, err := s.Next(ctx)
			if err != nil {
				break
			}
			if it.Packet != nil {
				played++
			}
		}
		s.Close()
		break
	}
	if played == 0 || tried != 2 || res.Title != "Test Channel" {
		t.Errorf("played %d packets after %d tries, title %q", played, tried, res.Title)
	}
}
