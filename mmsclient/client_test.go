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
