package mmsclient

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

func TestPlayFileTCP(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Rate = 20 })
	var evs eventLog
	ctx := context.Background()
	s, err := Dial(ctx, base+"a.wmv", Options{Transport: "tcp", OnEvent: evs.add, StepTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	af, want := sourcePackets(t, src)
	if !bytes.Equal(s.Header().Raw, af.HeaderBytes) {
		t.Errorf("header differs from the source's")
	}
	_, got := readAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	if s.Transport() != "tcp" {
		t.Errorf("transport %s", s.Transport())
	}
}

// playAndCompare plays url and checks every packet against the source file.
func playAndCompare(t *testing.T, url, src string, opts Options) *Session {
	t.Helper()
	s, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, want := sourcePackets(t, src)
	_, got := readAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d (stats %+v)", len(got), len(want), s.Stats())
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	return s
}

func TestPlayFileUDP(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.WMV2())
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) {
		s.Rate = 20
		s.StripPadding = mmsserver.StripAll
	})
	var evs eventLog
	s := playAndCompare(t, base+"a.wmv", src, Options{Transport: "udp", OnEvent: evs.add})
	if s.Transport() != "udp" {
		t.Errorf("transport %s", s.Transport())
	}
	st := s.Stats()
	if st.BandwidthMethod != "packet-pair-udp" || st.Bandwidth <= 0 {
		t.Errorf("bandwidth %d by %q, want a UDP packet-pair estimate", st.Bandwidth, st.BandwidthMethod)
	}
	s.Close()
	if len(evs.kinds("stats")) != 1 || len(evs.kinds("end")) != 1 {
		t.Errorf("events: %d stats, %d end", len(evs.kinds("stats")), len(evs.kinds("end")))
	}
}

func TestUDPLossRecovered(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 30 * time.Second
	src := clip(t, spec)
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) {
		s.Rate = 10
		s.DropUDP = 0.1
	})
	s, err := Dial(context.Background(), base+"a.wmv", Options{Transport: "udp"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The getters are safe while another goroutine plays (run with -race).
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				_ = s.Stats()
				_, _, _, _ = s.Played(), s.Bandwidth(), s.Header(), s.Streams()
			}
		}
	}()
	_, want := sourcePackets(t, src)
	_, got := readAll(t, s)
	close(stop)
	<-polled
	wantObj, gotObj := mediaObjects(t, want), mediaObjects(t, got)
	missing := 0
	for k := range wantObj {
		if !gotObj[k] {
			missing++
		}
	}
	st := s.Stats()
	t.Logf("%d/%d packets, %d of %d media objects missing; stats: lost net %d, requests %d, recovered %d, lost %d",
		len(got), len(want), missing, len(wantObj), st.PacketsLostNet, st.ResendRequests, st.Recovered, st.Lost)
	if float64(len(wantObj)-missing) < 0.999*float64(len(wantObj)) {
		t.Errorf("only %d of %d media objects arrived", len(wantObj)-missing, len(wantObj))
	}
	if st.PacketsLostNet == 0 || st.Recovered == 0 {
		t.Errorf("no loss seen or recovered with DropUDP=0.1: %+v", st)
	}
	if int(st.Lost) != len(want)-len(got) {
		t.Errorf("lost %d, but %d packets are missing", st.Lost, len(want)-len(got))
	}
}
