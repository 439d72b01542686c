package mmsh

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestFFmpegPlays has FFmpeg's mmsh client play a file from Handler and
// checks that every media packet arrives intact.
func TestFFmpegPlays(t *testing.T) {
	needTool(t, "ffmpeg", "ffprobe")
	src := clip(t, fixture.WMV2())
	h := &Handler{Dir: filepath.Dir(src), Rate: 20}
	addr := serve(t, h)
	out := filepath.Join(t.TempDir(), "out.asf")
	runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/"+filepath.Base(src), "-c", "copy", "-f", "asf", out)
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("no output: %v", err)
	}
	samePackets(t, probe(t, src), probe(t, out))
}

// TestVLCPlays has VLC's mmsh access dump a file served by Handler.
func TestVLCPlays(t *testing.T) {
	src := clip(t, fixture.WMV2())
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Rate: 20})
	out := vlcDump(t, "mmsh://"+addr+"/"+filepath.Base(src))
	samePackets(t, probe(t, src), probe(t, out))
}

// passthrough is a stand-in for the gateway's /asf/{name}: its own
// sequence of headers and packets written with Writer to MS-WMSP clients.
func passthrough(t testing.TB, files ...string) http.Handler {
	type entry struct {
		hdr     []byte
		packets [][]byte
	}
	var entries []entry
	for _, f := range files {
		af, pk := sourcePackets(t, f)
		hdr, err := BroadcastHeader(append(slices.Clone(af.HeaderBytes), af.DataHeader...))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{hdr, pk})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsRequest(r) {
			http.Error(w, "plain HTTP gets progressive ASF here", http.StatusTeapot)
			return
		}
		if !IsPlayRequest(r) {
			WriteDescribe(w, r, entries[0].hdr, true)
			return
		}
		wr := StartPlay(w, r, true)
		for _, e := range entries {
			if err := wr.WriteHeader(e.hdr); err != nil {
				return
			}
			for _, p := range e.packets {
				if err := wr.WritePacket(p); err != nil {
					return
				}
			}
		}
		wr.End(EndOK)
	})
}

// TestWriterPlaylistChange: our client and FFmpeg follow a header change
// written by Writer without reconnecting.
func TestWriterPlaylistChange(t *testing.T) {
	a := clip(t, fixture.WMV2())
	spec := fixture.WMV2()
	spec.Duration = 2 * time.Second
	b := clip(t, spec)
	_, pa := sourcePackets(t, a)
	_, pb := sourcePackets(t, b)
	addr := serve(t, passthrough(t, a, b))
	s := dial(t, "mmsh://"+addr+"/asf/demo", Options{})
	headers, got := readAll(t, s)
	if len(headers) != 1 || len(got) != len(pa)+len(pb) || !bytes.Equal(got[len(pa)], pb[0]) {
		t.Errorf("client: %d headers, %d packets (want 1, %d)", len(headers), len(got), len(pa)+len(pb))
	}
	if resp, err := http.Get("http://" + addr + "/asf/demo"); err != nil || resp.StatusCode != http.StatusTeapot {
		t.Errorf("plain HTTP client: %v %v", resp, err)
	}

	needTool(t, "ffmpeg", "ffprobe")
	out := filepath.Join(t.TempDir(), "out.asf")
	runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/asf/demo", "-c", "copy", "-f", "asf", out)
	got2 := probe(t, out)
	want := append(probe(t, a), probe(t, b)...)
	// Timestamps restart at the change, so FFmpeg's muxer interleaves
	// differently: every media packet must arrive intact, in any order.
	w, g := withoutPTS(want), withoutPTS(got2)
	slices.Sort(w)
	slices.Sort(g)
	samePackets(t, w, g)
}

// withoutPTS drops the pts column of probe lines.
func withoutPTS(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",")
		if len(f) > 2 {
			f = append(f[:1], f[2:]...)
		}
		out[i] = strings.Join(f, ",")
	}
	return out
}

// vlcDump has VLC's mmsh access dump url into a file and returns it.
func vlcDump(t *testing.T, url string) string {
	t.Helper()
	needTool(t, "cvlc", "setpriv", "ffprobe")
	unlock, err := fixture.LockVLC() // one VLC at a time across packages
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parents are private to root; VLC runs as nobody.
	for d := filepath.Dir(dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	out := filepath.Join(dir, "out.asf")
	log := runCmd(t, 2*time.Minute, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"cvlc", "-I", "dummy", "--demux=dump", "--demuxdump-file="+out, url, "vlc://quit")
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("VLC wrote nothing: %v\n%s", err, log)
	}
	return out
}

func TestVLCPlaylistChange(t *testing.T) {
	a := clip(t, fixture.WMV2())
	spec := fixture.WMV2()
	spec.Duration = 2 * time.Second
	b := clip(t, spec)
	addr := serve(t, passthrough(t, a, b))
	out := vlcDump(t, "mmsh://"+addr+"/asf/demo")
	w, g := withoutPTS(append(probe(t, a), probe(t, b)...)), withoutPTS(probe(t, out))
	slices.Sort(w)
	slices.Sort(g)
	samePackets(t, w, g)
}

// TestFFmpegHandlerPlaylist: FFmpeg plays both entries of a Handler playlist.
func TestFFmpegHandlerPlaylist(t *testing.T) {
	needTool(t, "ffmpeg", "ffprobe")
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.MSMPEG4())
	h := &Handler{Unpaced: true}
	fa, err := OpenFile(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := OpenFile(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	h.Add("list", Playlist{fa, fb})
	addr := serve(t, h)
	out := filepath.Join(t.TempDir(), "out.asf")
	runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/list", "-c", "copy", "-f", "asf", out)
	got := probe(t, out)
	if first := len(probe(t, a)); len(got) <= first {
		t.Errorf("FFmpeg stopped at the first entry: %d packets, first entry has %d", len(got), first)
	}
}

// TestMicrosoftFiles plays the Microsoft-made sample files through Handler
// with our client (every packet byte-equal) and FFmpeg (every media packet).
func TestMicrosoftFiles(t *testing.T) {
	const dir = "/work/shared/media"
	names := []string{"glass.wmv", "jeanne.wma", "Sire.wma", "laure_multi.wma"}
	if _, err := os.Stat(filepath.Join(dir, names[0])); err != nil {
		t.Skip("sample media not present")
	}
	addr := serve(t, &Handler{Dir: dir, Unpaced: true})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			_, want := sourcePackets(t, filepath.Join(dir, name))
			s := dial(t, "mmsh://"+addr+"/"+name, Options{Streams: allStreams(t, filepath.Join(dir, name))})
			if cd := s.Header().ContentDescription; cd != nil && cd.Title != "" {
				if m := s.Metadata(); m.Get("title") != cd.Title || m.PlaylistGenID != 1 || len(m.Features) == 0 {
					t.Errorf("$M %+v, header title %q", m, cd.Title)
				}
			}
			_, got := readAll(t, s)
			if len(got) != len(want) {
				t.Fatalf("%d packets, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], restoredZeros(t, want[i])) {
					t.Fatalf("packet %d differs", i)
				}
			}
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				return
			}
			out := filepath.Join(t.TempDir(), "out.asf")
			runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
				"-i", "mmsh://"+addr+"/"+name, "-map", "0", "-c", "copy", "-f", "asf", out)
			// FFmpeg's ASF muxer interleaves these files differently even
			// when remuxing them locally, and writes 0 for Sire.wma's missing
			// cover-art pts: every media packet must arrive intact.
			w, g := withoutPTS(probe(t, filepath.Join(dir, name))), withoutPTS(probe(t, out))
			slices.Sort(w)
			slices.Sort(g)
			samePackets(t, w, g)
			if _, err := exec.LookPath("cvlc"); err != nil {
				return
			}
			// VLC dumps the stream as received: same packets, same order.
			samePackets(t, probe(t, filepath.Join(dir, name)), probe(t, vlcDump(t, "mmsh://"+addr+"/"+name)))
		})
	}
}

// allStreams lists every stream of a file, so that nothing is deselected.
func allStreams(t testing.TB, path string) []uint16 {
	af, _ := sourcePackets(t, path)
	var n []uint16
	for _, sp := range af.Header.Streams {
		n = append(n, sp.StreamNumber)
	}
	return n
}

// restoredZeros is pkt as a client restores it: padding comes back as
// zeros (some Microsoft encoders left stale bytes there).
func restoredZeros(t testing.TB, pkt []byte) []byte {
	s, err := asf.StripPadding(nil, pkt, true) // what Writer sends
	if err != nil {
		t.Fatal(err)
	}
	r, err := asf.RestorePadding(nil, s, len(pkt))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFFmpegLiveLoop: FFmpeg records 5 s of a looping 3 s broadcast; the
// media packets of the second loop are the file's, with later timestamps.
func TestFFmpegLiveLoop(t *testing.T) {
	needTool(t, "ffmpeg", "ffprobe")
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &Handler{}
	h.Add("live", NewLiveFile(f, 4))
	addr := serve(t, h)
	out := filepath.Join(t.TempDir(), "out.asf")
	runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/live", "-t", "5", "-c", "copy", "-f", "asf", out)
	got := probe(t, out)
	want := probe(t, src)
	if len(got) <= len(want) {
		t.Fatalf("%d packets in 5 s of a 3 s loop (file has %d)", len(got), len(want))
	}
	if maxPTS(got) <= maxPTS(want) {
		t.Errorf("timestamps did not grow across the loop: %d <= %d", maxPTS(got), maxPTS(want))
	}
	// Every media packet received is one of the file's.
	have := map[string]bool{}
	for _, l := range withoutPTS(want) {
		have[l[strings.IndexByte(l, ',')+1:]] = true
	}
	for i, l := range withoutPTS(got) {
		if !have[l[strings.IndexByte(l, ',')+1:]] {
			t.Fatalf("packet %d (%s) is not in the file", i, l)
		}
	}
}

// maxPTS is the largest pts of probe lines.
func maxPTS(lines []string) int {
	m := 0
	for _, l := range lines {
		f := strings.Split(l, ",")
		if len(f) > 1 {
			if v, err := strconv.Atoi(f[1]); err == nil && v > m {
				m = v
			}
		}
	}
	return m
}
