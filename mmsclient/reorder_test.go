package mmsclient

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func pkt(n uint32) []byte { return []byte(fmt.Sprint(n)) }

func drain(b *reorderBuffer) (got []string) {
	for p := b.pop(); p != nil; p = b.pop() {
		got = append(got, string(p))
	}
	return got
}

func TestReorderInOrder(t *testing.T) {
	b := newReorderBuffer(64, 100*time.Millisecond, time.Second)
	now := time.Now()
	var got []string
	for i := uint32(10); i < 200; i++ {
		if ask := b.add(i, pkt(i), now); ask != nil {
			t.Fatalf("ask %v on in-order packets", ask)
		}
		got = append(got, drain(b)...)
	}
	if len(got) != 190 || got[0] != "10" || got[189] != "199" {
		t.Fatalf("got %d packets, first %v", len(got), got[:1])
	}
}

func TestReorderRecoversAndGivesUp(t *testing.T) {
	b := newReorderBuffer(64, 100*time.Millisecond, time.Second)
	t0 := time.Now()
	b.add(0, pkt(0), t0)
	ask := b.add(3, pkt(3), t0)
	if fmt.Sprint(ask) != "[1 2]" {
		t.Fatalf("ask = %v, want [1 2]", ask)
	}
	if got := drain(b); fmt.Sprint(got) != "[0]" {
		t.Fatalf("delivered %v before the hole, want [0]", got)
	}
	b.add(1, pkt(1), t0.Add(10*time.Millisecond)) // resent
	if got := drain(b); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after resend: %v", got)
	}
	// 2 is asked again after the retry interval...
	if ask := b.tick(t0.Add(150 * time.Millisecond)); fmt.Sprint(ask) != "[2]" {
		t.Fatalf("retry ask = %v", ask)
	}
	// ... and given up after the deadline.
	if ask := b.tick(t0.Add(1100 * time.Millisecond)); ask != nil {
		t.Fatalf("ask after give-up: %v", ask)
	}
	if got := drain(b); fmt.Sprint(got) != "[3]" {
		t.Fatalf("after give-up: %v", got)
	}
	b.add(2, pkt(2), t0.Add(1200*time.Millisecond)) // too late
	st := b.st
	if st.LostNet != 2 || st.LostContNet != 2 || st.Recovered != 1 || st.LostClient != 1 || st.Late != 1 || st.ResendRequests != 3 {
		t.Fatalf("stats %+v", st)
	}
	if b.pending() {
		t.Fatal("still pending")
	}
}

func TestReorderWindowForcesGiveUp(t *testing.T) {
	b := newReorderBuffer(16, time.Second, time.Hour)
	now := time.Now()
	b.add(0, pkt(0), now)
	drain(b)
	for i := uint32(2); i < 40; i++ { // 1 never arrives
		b.add(i, pkt(i), now)
	}
	got := drain(b)
	if len(got) != 38 || got[0] != "2" || got[37] != "39" {
		t.Fatalf("got %v", got)
	}
	if b.st.LostClient != 1 {
		t.Fatalf("LostClient = %d", b.st.LostClient)
	}
	// A hostile jump far ahead does not loop for ever nor grow memory.
	ask := b.add(1<<31, pkt(1), now)
	if len(ask) >= 16 || b.missing >= 16 {
		t.Fatalf("after jump: %d asked, %d missing", len(ask), b.missing)
	}
	b.tick(now.Add(2 * time.Hour))
	if got := drain(b); len(got) != 1 {
		t.Fatalf("after jump: %v", got)
	}
}

// TestReorderRandomLoss feeds a lossy, reordered stream with resends and
// checks that everything comes out once, in order.
func TestReorderRandomLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := newReorderBuffer(512, 50*time.Millisecond, 10*time.Second)
	now := time.Now()
	const n = 20000
	var queue []uint32 // resends in flight
	var got []string
	for i := uint32(0); i < n; i++ {
		now = now.Add(time.Millisecond)
		if r.Float64() >= 0.1 || i == 0 {
			queue = append(queue, b.add(i, pkt(i), now)...)
		} else if i == n-1 {
			b.add(i, pkt(i), now) // the tail cannot be detected; keep it
		}
		queue = append(queue, b.tick(now)...)
		if len(queue) > 0 && r.IntN(3) == 0 {
			s := queue[0]
			queue = queue[1:]
			if r.Float64() >= 0.1 {
				b.add(s, pkt(s), now)
			}
		}
		got = append(got, drain(b)...)
	}
	for len(queue) > 0 || b.pending() {
		now = now.Add(time.Millisecond)
		queue = append(queue, b.tick(now)...)
		if len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			b.add(s, pkt(s), now)
		}
		got = append(got, drain(b)...)
	}
	if len(got) != n {
		t.Fatalf("delivered %d of %d (stats %+v)", len(got), n, b.st)
	}
	for i, g := range got {
		if g != fmt.Sprint(i) {
			t.Fatalf("packet %d is %s", i, g)
		}
	}
	if b.st.LostClient != 0 || b.st.Recovered != b.st.LostNet {
		t.Fatalf("stats %+v", b.st)
	}
}

func BenchmarkReorderInOrder(b *testing.B) {
	buf := newReorderBuffer(512, 50*time.Millisecond, time.Second)
	p := make([]byte, 1500)
	now := time.Now()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.add(uint32(i), p, now)
		for buf.pop() != nil {
		}
	}
}
