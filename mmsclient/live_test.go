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

// TestCloseWhileNextBlocks closes the session from another goroutine while
// Next waits for a packet that a slow live source has not sent yet.
func TestCloseWhileNextBlocks(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.AudioOnly())
	srv, base := serveDir(t, t.TempDir(), func(s *mmsserver.Server) { s.Rate = 0.05 })
	if err := srv.AddLive("slow", src); err != nil {
		t.Fatal(err)
	}
	s, err := Dial(context.Background(), base+"slow", Options{Transport: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Next(context.Background()); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // let Next block; the test passes either way
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still blocked after Close")
	}
	if !s.Stats().LogSent {
		t.Errorf("no CLIENT_LOG sent on Close")
	}
}
