package mmsclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// TestLiveAndCancel plays a live broadcast over UDP and TCP for a while,
// then cancels the Dial context: Next ends with the context's error and no
// goroutine of the session survives.
func TestLiveAndCancel(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	srv, base := serveDir(t, t.TempDir(), func(s *mmsserver.Server) { s.Rate = 10 })
	if err := srv.AddLive("live", src); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			checkNoLeak(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := Dial(ctx, base+"live", Options{Transport: transport})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.Header().FileProperties.Broadcast {
				t.Errorf("live header without the Broadcast flag")
			}
			rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
			defer rcancel()
			for n := 0; n < 20; n++ {
				if _, err := s.Next(rctx); err != nil {
					t.Fatalf("packet %d: %v", n, err)
				}
			}
			cancel()
			var err2 error
			for err2 == nil {
				_, err2 = s.Next(context.Background())
			}
			if !errors.Is(err2, ErrClosed) && !errors.Is(err2, context.Canceled) {
				t.Errorf("after cancel: %v", err2)
			}
		})
	}
}
