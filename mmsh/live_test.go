package mmsh

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// hub is a minimal broadcaster with subscribers, the shape of mmsserver's
// live loops.
type hub struct {
	mu     sync.Mutex
	subs   map[chan LivePacket]bool
	joined chan struct{} // one signal per subscription
	left   chan struct{} // one signal per unsubscription
}

func newHub() *hub {
	return &hub{subs: map[chan LivePacket]bool{}, joined: make(chan struct{}, 16), left: make(chan struct{}, 16)}
}

func (h *hub) subscribe(ctx context.Context) (<-chan LivePacket, func()) {
	ch := make(chan LivePacket, 1024)
	h.mu.Lock()
	h.subs[ch] = true
	h.mu.Unlock()
	h.joined <- struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			if h.subs[ch] {
				delete(h.subs, ch)
				close(ch)
			}
			h.mu.Unlock()
			h.left <- struct{}{}
		})
	}
}

func (h *hub) publish(p LivePacket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- p:
		default:
		}
	}
}

func (h *hub) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
	}
}

func TestLiveSource(t *testing.T) {
	src := clip(t, fixture.WMV2())
	af, pk := sourcePackets(t, src)
	bh, err := BroadcastHeader(append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...))
	if err != nil {
		t.Fatal(err)
	}
	hb := newHub()
	h := &Handler{}
	h.Add("live", &Live{Header: func() []byte { return bh }, Subscribe: hb.subscribe})
	addr := serve(t, h)
	s := dial(t, "mmsh://"+addr+"/live", Options{})
	if !s.Live() {
		t.Error("not announced as live")
	}
	wait(t, hb.joined, "subscription")
	go func() {
		for i, p := range pk {
			hb.publish(LivePacket{Location: uint32(1000 + i), Data: p})
		}
		hb.end()
	}()
	_, got := readAll(t, s)
	if len(got) != len(pk) {
		t.Errorf("%d packets, want %d", len(got), len(pk))
	}
	wait(t, hb.left, "unsubscription at the end")

	// A viewer that leaves mid-broadcast is unsubscribed.
	s2 := dial(t, "mmsh://"+addr+"/live", Options{})
	wait(t, hb.joined, "second subscription")
	hb.publish(LivePacket{Location: 1, Data: pk[0]})
	if _, err := s2.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	wait(t, hb.left, "unsubscription after the viewer left")
}
