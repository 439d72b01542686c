package remux

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestLLHLSBlockingReload: Low-Latency HLS playlists answer blocking
// reloads (RFC 8216bis 6.2.5.2): a request for a part that does not exist
// yet is held until it does; one too far ahead gets 400.
func TestLLHLSBlockingReload(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 8 * time.Second
	path := clip(t, spec)
	p, err := New(Options{Outputs: Outputs{LLHLS: true}, SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fed := make(chan error, 1)
	go func() { fed <- Feed(ctx, NewFileSource(1.5, false, path), p) }()

	f := newFollower(srv.URL + "/hls/")
	if err := f.start(ctx); err != nil {
		t.Fatal(err)
	}
	media := f.streams[0].uri
	get := func(q string) (*playlist.Media, int, string) {
		res, err := http.Get(srv.URL + "/hls/" + media + q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, "")
		buf := make([]byte, 1<<16)
		for {
			n, err := res.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if res.StatusCode != 200 {
			return nil, res.StatusCode, b.String()
		}
		pl, err := playlist.Unmarshal([]byte(b.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		return pl.(*playlist.Media), 200, b.String()
	}
	pl, code, text := get("")
	if code != 200 {
		t.Fatalf("%d %s", code, text)
	}
	for _, tag := range []string{"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES", "#EXT-X-PART-INF:PART-TARGET=", "#EXT-X-PRELOAD-HINT:TYPE=PART", "#EXT-X-PART:"} {
		if !strings.Contains(text, tag) {
			t.Errorf("playlist lacks %s:\n%s", tag, text)
		}
	}
	// the next part, five times: each request returns once that part exists
	for i := 0; i < 5; i++ {
		msn := pl.MediaSequence + len(pl.Segments) // the open segment
		part := len(pl.Parts)
		q := fmt.Sprintf("?_HLS_msn=%d&_HLS_part=%d", msn, part)
		start := time.Now()
		next, code, text := get(q)
		if code != 200 {
			t.Fatalf("%s: %d %s", q, code, text)
		}
		has := false
		if nmsn := next.MediaSequence + len(next.Segments); nmsn > msn {
			has = true // the segment completed meanwhile: it holds the part
		} else if nmsn == msn && len(next.Parts) > part {
			has = true
		}
		if !has {
			t.Fatalf("%s answered without the part:\n%s", q, text)
		}
		t.Logf("%s answered after %v", q, time.Since(start).Round(time.Millisecond))
		pl = next
	}
	// far ahead: 400 at once (RFC 8216bis 6.2.5.2)
	q := fmt.Sprintf("?_HLS_msn=%d&_HLS_part=0", pl.MediaSequence+len(pl.Segments)+10)
	if _, code, _ := get(q); code != http.StatusBadRequest {
		t.Errorf("%s: %d, want 400", q, code)
	}
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
	// parts and segments are real media
	if err := f.poll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.streams {
		if got := ffprobe(t, s.file(t)).codecs(); got != "video:h264" && got != "audio:aac" {
			t.Errorf("%s: %s", s.uri, got)
		}
	}
}
