package mmsserver

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// broadcast loops a file as a live broadcast (issue: "a file looped as a
// broadcast that many clients join mid-stream"). One goroutine reads and
// paces the packets; subscribers get them through bounded channels. A
// subscriber that falls behind is cut off rather than slowing the others.
type broadcast struct {
	name   string
	media  *media
	header []byte // marked broadcast
	rate   float64
	log    *slog.Logger

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	gop  []livePacket // packets since the latest key frame, for joiners
}

type livePacket struct {
	loc  uint32 // LocationId in the virtual file (2.2.2)
	data []byte // shared, never modified
}

type subscriber struct {
	ch     chan livePacket
	closed bool
}

const (
	maxGOP       = 2048 // packets kept for joiners
	subQueueSize = 512
)

func newBroadcast(name string, m *media, rate float64, log *slog.Logger) *broadcast {
	return &broadcast{
		name:   name,
		media:  m,
		header: m.broadcastHeader(),
		rate:   rate,
		log:    log,
		subs:   map[*subscriber]struct{}{},
	}
}

// subscribe returns a subscriber whose channel starts with the packets since
// the latest key frame, so that the client starts decoding at once.
func (b *broadcast) subscribe() *subscriber {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &subscriber{ch: make(chan livePacket, subQueueSize+len(b.gop))}
	for _, p := range b.gop {
		s.ch <- p
	}
	b.subs[s] = struct{}{}
	return s
}

func (b *broadcast) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		if !s.closed {
			s.closed = true
			close(s.ch)
		}
	}
}

func (b *broadcast) publish(p livePacket, key bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if key || len(b.gop) >= maxGOP {
		b.gop = b.gop[:0]
	}
	if key || len(b.gop) > 0 {
		b.gop = append(b.gop, p)
	}
	for s := range b.subs {
		select {
		case s.ch <- p:
		default:
			b.log.Warn("live subscriber too slow, dropped", "live", b.name)
			delete(b.subs, s)
			s.closed = true
			close(s.ch)
		}
	}
}

// run sends the file's packets forever at their send times, shifting send
// and presentation times by the file's duration on every loop so that they
// keep increasing.
func (b *broadcast) run(ctx context.Context) {
	defer func() {
		b.mu.Lock()
		for s := range b.subs {
			if !s.closed {
				s.closed = true
				close(s.ch)
			}
		}
		b.subs = map[*subscriber]struct{}{}
		b.mu.Unlock()
	}()
	m := b.media
	if m.packetCount == 0 {
		<-ctx.Done()
		return
	}
	var (
		p      packetInfo
		loc    uint32
		shift  uint32
		start  = time.Now()
		timer  = time.NewTimer(0)
		period = m.playEnd - m.preroll
	)
	defer timer.Stop()
	if m.playEnd <= m.preroll || period < m.sendTimes[len(m.sendTimes)-1] {
		period = m.sendTimes[len(m.sendTimes)-1] + 100
	}
	for loop := 0; ; loop++ {
		for n := uint64(0); n < m.packetCount; n++ {
			buf := make([]byte, m.packetSize)
			if err := m.readPacket(n, buf); err != nil {
				b.log.Error("live read", "live", b.name, "err", err)
				return
			}
			if err := parsePacket(buf, &p); err != nil {
				continue
			}
			if shift != 0 {
				p.shiftTimes(buf, shift)
			}
			due := start.Add(time.Duration(float64(p.sendTime(buf)) / b.rate * float64(time.Millisecond)))
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			b.publish(livePacket{loc: loc, data: buf}, p.keyFrameStart(m.video))
			loc++
		}
		shift += period
	}
}
