package mmsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

func TestAuth(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	dir := dirWith(t, map[string]string{"a.wma": src})
	for _, scheme := range []string{"basic", "ntlm"} {
		for _, transport := range []string{"tcp", "udp"} {
			t.Run(scheme+"/"+transport, func(t *testing.T) {
				_, base := serveDir(t, dir, func(s *mmsserver.Server) {
					s.Rate = 20
					s.Auth = &mmsserver.Auth{Scheme: scheme, Username: "alice", Password: "s3cret"}
				})
				// Credentials from the URL.
				url := strings.Replace(base, "mms://", "mms://alice:s3cret@", 1) + "a.wma"
				s := playAndCompare(t, url, src, Options{Transport: transport})
				if got := s.Stats().AuthScheme; !strings.EqualFold(got, scheme) {
					t.Errorf("auth scheme %q, want %q", got, scheme)
				}
				// Wrong password from the options: a clear error, no hang.
				_, err := Dial(context.Background(), base+"a.wma", Options{Transport: transport, Username: "alice", Password: "wrong"})
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("wrong password: %v, want ErrAuth", err)
				}
				// No credentials at all.
				_, err = Dial(context.Background(), base+"a.wma", Options{Transport: transport})
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("no credentials: %v, want ErrAuth", err)
				}
			})
		}
	}
}

func TestRedirect(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	dir := dirWith(t, map[string]string{"a.wma": src})
	_, target := serveDir(t, dir, func(s *mmsserver.Server) { s.Rate = 20 })
	_, base := serveDir(t, dir, func(s *mmsserver.Server) {
		s.Redirects = map[string]string{"old.wma": target + "a.wma", "loop.wma": "loop2.wma", "loop2.wma": "loop.wma"}
	})
	var evs eventLog
	s := playAndCompare(t, base+"old.wma", src, Options{OnEvent: evs.add})
	if st := s.Stats(); len(st.Redirects) != 1 || st.Redirects[0] != target+"a.wma" {
		t.Errorf("redirects %v", st.Redirects)
	}
	if len(evs.kinds("redirect")) != 1 {
		t.Errorf("%d redirect events", len(evs.kinds("redirect")))
	}
	// A redirect loop ends with a clear error.
	_, err := Dial(context.Background(), base+"loop.wma", Options{Transport: "tcp", MaxRedirects: 3})
	if !errors.Is(err, ErrRedirects) {
		t.Fatalf("loop: %v", err)
	}
	// The caller vetoes the new host.
	calls := 0
	_, err = Dial(context.Background(), base+"old.wma", Options{Transport: "tcp", AllowHost: func(host string) error {
		calls++
		if calls > 1 {
			return fmt.Errorf("host %s not allowed", host)
		}
		return nil
	}})
	if !errors.Is(err, ErrRedirects) || calls != 2 {
		t.Fatalf("veto: %v after %d calls", err, calls)
	}
}

func TestPlaylist(t *testing.T) {
	a := clip(t, fixture.AudioOnly())
	b := clip(t, fixture.WMV2())
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			srv, base := serveDir(t, dirWith(t, map[string]string{"a.wma": a, "b.wmv": b}), func(s *mmsserver.Server) { s.Rate = 20 })
			if err := srv.AddPlaylist("list", a, b); err != nil {
				t.Fatal(err)
			}
			var evs eventLog
			s, err := Dial(context.Background(), base+"list", Options{Transport: transport, OnEvent: evs.add})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			headers, packets := readAll(t, s)
			afA, wantA := sourcePackets(t, a)
			afB, wantB := sourcePackets(t, b)
			_ = afA
			if len(headers) != 1 {
				t.Fatalf("%d new headers, want 1", len(headers))
			}
			if string(headers[0][:len(afB.HeaderBytes)]) != string(afB.HeaderBytes) {
				t.Errorf("second header is not b's")
			}
			if len(packets) != len(wantA)+len(wantB) {
				t.Errorf("%d packets, want %d+%d", len(packets), len(wantA), len(wantB))
			}
			if n := len(evs.kinds("entry_change")); n != 1 {
				t.Errorf("%d entry_change events", n)
			}
			if st := s.Stats(); st.Entries != 2 {
				t.Errorf("entries %d", st.Entries)
			}
		})
	}
}

func TestSeekStrideSwitch(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 10 * time.Second
	src := clip(t, spec)
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Rate = 2 })
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			checkNoLeak(t)
			ctx := context.Background()
			s, err := Dial(ctx, base+"a.wmv", Options{Transport: transport, Start: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			first := nextPacketTime(t, s)
			// Servers start at the key frame at or before the position;
			// send times run ahead of presentation by up to the preroll.
			if first < 500 || first > 2600 {
				t.Errorf("start at 2 s: first send time %d ms", first)
			}
			// Seek while playing (4.5.1).
			if err := s.Seek(ctx, 6*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := nextPacketTime(t, s); got < 4500 || got > 6600 {
				t.Errorf("after seek to 6 s: send time %d ms", got)
			}
			// Stream switch while playing: audio only.
			var audio uint16
			for _, st := range s.streams {
				if st.Kind == kindAudio {
					audio = st.Number
				}
			}
			if err := s.SwitchStreams(ctx, []uint16{audio}); err != nil {
				t.Fatal(err)
			}
			if got := s.Streams(); len(got) != 1 || got[0] != audio {
				t.Errorf("streams after switch: %v", got)
			}
			// Striding (fast forward) from 1 s.
			if err := s.Stride(ctx, time.Second, 2); err != nil {
				t.Fatal(err)
			}
			if got := nextPacketTime(t, s); got > 1600 {
				t.Errorf("stride from 1 s: send time %d ms", got)
			}
			// Rewind (negative rate) from 8 s: send times go down.
			if err := s.Stride(ctx, 8*time.Second, -2); err != nil {
				t.Fatal(err)
			}
			var times []uint32
			for {
				it, err := s.Next(ctx)
				if err != nil {
					break // the rewind reaches the start: end of stream
				}
				if it.Packet != nil && s.pkt.Unmarshal(it.Packet) == nil {
					times = append(times, s.pkt.SendTime)
				}
			}
			if len(times) < 2 || times[len(times)-1] >= times[0] {
				t.Errorf("rewinding from 8 s: send times %v", times)
			}
			// Seek by packet number.
			if err := s.SeekPacket(ctx, 5); err != nil {
				t.Fatal(err)
			}
			nextPacketTime(t, s)
		})
	}
}

func nextPacketTime(t *testing.T, s *Session) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		it, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if it.Packet != nil {
			if err := s.pkt.Unmarshal(it.Packet); err != nil {
				t.Fatal(err)
			}
			return s.pkt.SendTime
		}
	}
}

func TestPacketPairTCP(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wma": src}), func(s *mmsserver.Server) { s.Rate = 20 })
	var evs eventLog
	s := playAndCompare(t, base+"a.wma", src, Options{Transport: "tcp", OnEvent: evs.add})
	st := s.Stats()
	if st.BandwidthMethod != "packet-pair-tcp" || st.Bandwidth <= 0 {
		t.Errorf("bandwidth %d by %q", st.Bandwidth, st.BandwidthMethod)
	}
	if len(evs.kinds("bandwidth")) != 1 {
		t.Errorf("bandwidth events: %d", len(evs.kinds("bandwidth")))
	}
	// Forced bandwidth: no packet pair asked for.
	s2 := playAndCompare(t, base+"a.wma", src, Options{Transport: "tcp", Bandwidth: 56000})
	if st := s2.Stats(); st.BandwidthMethod != "forced" || st.Bandwidth != 56000 {
		t.Errorf("forced: %d by %q", st.Bandwidth, st.BandwidthMethod)
	}
}

func TestClientLogReceived(t *testing.T) {
	src := clip(t, fixture.WMV2())
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			srv, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) {
				s.Rate = 20
				s.DropUDP = 0.05
			})
			s := playAndCompare(t, base+"a.wmv", src, Options{Transport: transport})
			s.Close()
			st := s.Stats()
			var logs []mmsserver.ClientLog
			deadline := time.Now().Add(10 * time.Second)
			for len(logs) == 0 && time.Now().Before(deadline) {
				logs = srv.ClientLogs()
				time.Sleep(10 * time.Millisecond)
			}
			if len(logs) == 0 {
				t.Fatal("the server received no CLIENT_LOG")
			}
			l := logs[len(logs)-1].Log
			if l.Info.PacketsReceived != st.PacketsReceived || l.Info.BytesReceived != st.BytesReceived ||
				l.PacketsLostNet != st.PacketsLostNet || l.PacketsRecoveredResent != st.Recovered ||
				l.ResendRequests != st.ResendRequests || l.Info.PacketsLostClient != st.Lost {
				t.Errorf("server got %+v\nclient measured %+v", l, st)
			}
			if l.Transport != strings.ToUpper(transport) || l.Proto != "mms" || l.SourceID != s.fileID {
				t.Errorf("log transport %q proto %q source %d", l.Transport, l.Proto, l.SourceID)
			}
			if l.Info.PacketsReceived == 0 || l.Info.Played == 0 {
				t.Errorf("empty figures: %+v", l.Info)
			}
		})
	}
}

// TestPlaylistEntryStreamsTCP: 3.1.4.4 over TCP: at a new playlist entry
// the server picks streams from dwLinkBandwidth (3.2.4.2: audio and the low
// video for 300 kbit/s), and the client sends its own choice (here the
// caller's audio + high video) in a StreamSwitch; the high video then
// arrives in the second entry from a key frame.
func TestPlaylistEntryStreamsTCP(t *testing.T) {
	mbr, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, base := serveDir(t, t.TempDir(), func(s *mmsserver.Server) { s.Rate = 5 })
	if err := srv.AddPlaylist("list", mbr, mbr); err != nil {
		t.Fatal(err)
	}
	const audio, low, high = 1, 2, 3
	s, err := Dial(t.Context(), base+"list", Options{Transport: "tcp", Bandwidth: 300_000, Streams: []uint16{audio, high}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	entry := 1
	seen := map[int]map[uint8]int{1: {}, 2: {}}
	var p asf.Packet
	for {
		it, err := s.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if it.Header != nil {
			entry++
			continue
		}
		if err := p.Unmarshal(it.Packet); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.Payloads {
			seen[entry][pl.StreamNumber]++
		}
	}
	t.Logf("payloads per stream: entry 1 %v, entry 2 %v", seen[1], seen[2])
	if entry != 2 {
		t.Fatalf("%d entries", entry)
	}
	for e := 1; e <= 2; e++ {
		if seen[e][audio] == 0 || seen[e][high] == 0 {
			t.Errorf("entry %d: payloads per stream %v, want audio and high video", e, seen[e])
		}
	}
	if seen[1][low] != 0 {
		t.Errorf("entry 1 carried the unselected low video: %v", seen[1])
	}
	if got := s.Stats().Streams; !slices.Equal(got, []uint16{audio, high}) {
		t.Errorf("stats streams %v", got)
	}
}
