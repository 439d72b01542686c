package asf

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// gopFixtures are 10-s ffmpeg clips with a key frame every second (-g 25).
var gopFixtures = []struct {
	name string
	args []string
}{
	{"gop_wmv2.asf", []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
		"sine=f=440:sample_rate=44100", "-t", "10", "-g", "25", "-c:v", "wmv2", "-b:v", "300k", "-c:a", "wmav2"}},
	{"gop_msmpeg4.asf", []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
		"sine=f=440:sample_rate=44100", "-t", "10", "-g", "25", "-c:v", "msmpeg4", "-b:v", "300k", "-c:a", "wmav2"}},
	{"gop_wmav2.asf", []string{"-f", "lavfi", "-i", "sine=f=440:sample_rate=44100", "-t", "10", "-c:a", "wmav2"}},
}

var gopOnce struct {
	sync.Once
	paths []string
	err   error
}

func gopFiles(t testing.TB) []string {
	t.Helper()
	gopOnce.Do(func() {
		for _, f := range gopFixtures {
			p := filepath.Join(fixtureDir, f.name)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			args := append(append([]string{"-v", "error", "-y"}, f.args...), "-f", "asf", p)
			out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
			cancel()
			if err != nil {
				gopOnce.err = fmt.Errorf("ffmpeg %s: %w: %s", f.name, err, out)
				return
			}
			gopOnce.paths = append(gopOnce.paths, p)
		}
	})
	if gopOnce.err != nil {
		t.Fatal(gopOnce.err)
	}
	return gopOnce.paths
}

// packetFacts is what every packet of a file says about seeking, read
// linearly: send time, and the earliest media time of a video key frame
// starting in it (-1 when none).
type packetFacts struct {
	video uint8
	send  []uint32
	key   []time.Duration
}

func factsOf(t *testing.T, f *File) packetFacts {
	t.Helper()
	var pf packetFacts
	for _, sp := range f.Header.Streams {
		if sp.IsVideo() && (pf.video == 0 || uint8(sp.StreamNumber) < pf.video) {
			pf.video = uint8(sp.StreamNumber)
		}
	}
	preroll := time.Duration(f.Header.FileProperties.Preroll) * time.Millisecond
	var p Packet
	for n := uint64(0); n < f.PacketCount; n++ {
		b, err := f.ReadPacket(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Unmarshal(b); err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		k := time.Duration(-1)
		for _, pl := range p.Payloads {
			mt := time.Duration(pl.PresentationTime)*time.Millisecond - preroll
			if pl.StreamNumber == pf.video && pl.KeyFrame && pl.OffsetIntoMediaObject == 0 && (k < 0 || mt < k) {
				k = mt
			}
		}
		pf.send = append(pf.send, p.SendTime)
		pf.key = append(pf.key, k)
	}
	return pf
}

// want is PacketForTime by a linear walk: the last packet sent by at, moved
// back to the last one starting a video key frame presented by at, or to
// packet 0 when at is before the first key frame.
func (pf packetFacts) want(at time.Duration) uint64 {
	if at <= 0 {
		return 0
	}
	last := 0
	for n, s := range pf.send {
		if time.Duration(s)*time.Millisecond <= at {
			last = n
		}
	}
	seen := false
	for n := last; n >= 0 && last-n <= maxSeekScan; n-- {
		if pf.key[n] >= 0 && pf.key[n] <= at {
			return uint64(n)
		}
		seen = seen || pf.key[n] >= 0
		if n == 0 && seen {
			return 0
		}
	}
	return uint64(last)
}

// firstKey is the packet of the first video key frame.
func (pf packetFacts) firstKey() uint64 {
	for n, k := range pf.key {
		if k >= 0 {
			return uint64(n)
		}
	}
	return 0
}

// TestPacketForTimeGOP: in ffmpeg clips with a key frame a second, the
// packet for every second starts a key frame presented at most that second
// and less than 1.1 s before, with and without the Simple Index, which
// FFmpeg keys by presentation time preroll included.
func TestPacketForTimeGOP(t *testing.T) {
	for _, path := range gopFiles(t) {
		f, _ := openTestFile(t, path)
		pf := factsOf(t, f)
		preroll := time.Duration(f.Header.FileProperties.Preroll) * time.Millisecond
		if pf.video != 0 {
			if f.SimpleIndex == nil {
				t.Fatalf("%s: no Simple Index", path)
			}
			// what the index means: entry i is the last key frame presented
			// (preroll included) at or before i intervals, or the first key
			// frame for the entries before it
			iv := time.Duration(f.SimpleIndex.EntryTimeInterval) * 100
			for i, e := range f.SimpleIndex.Entries {
				k := pf.key[e.PacketNumber]
				if k < 0 || (k+preroll > time.Duration(i)*iv && uint64(e.PacketNumber) != pf.firstKey()) {
					t.Errorf("%s: entry %d: packet %d, key frame at %v (media time)", path, i, e.PacketNumber, k)
				}
			}
		}
		noIndex := *f
		noIndex.SimpleIndex, noIndex.Index = nil, nil
		for sec := 0; sec < 10; sec++ {
			at := time.Duration(sec) * time.Second
			if sec == 0 {
				at = 20 * time.Millisecond // before the first key frame (46 ms)
			}
			for _, g := range []*File{f, &noIndex} {
				n, err := g.PacketForTime(at)
				if err != nil {
					t.Fatal(err)
				}
				if w := pf.want(at); n != w {
					t.Errorf("%s (index %v): %v: packet %d, want %d", path, g.SimpleIndex != nil, at, n, w)
				}
				if pf.video == 0 {
					continue
				}
				if at < pf.key[pf.firstKey()] {
					if n != 0 {
						t.Errorf("%s: %v is before the first key frame: packet %d", path, at, n)
					}
					continue
				}
				if k := pf.key[n]; k < 0 || k > at || k <= at-1100*time.Millisecond {
					t.Errorf("%s (index %v): %v: packet %d, key frame at %v", path, g.SimpleIndex != nil, at, n, k)
				}
			}
		}
	}
}

// TestPacketForTimeScan: without an index, every file (audio only, video,
// cover art) gives the linear walk's packet.
func TestPacketForTimeScan(t *testing.T) {
	for _, path := range allFiles(t) {
		f, _ := openTestFile(t, path)
		f.SimpleIndex, f.Index = nil, nil
		pf := factsOf(t, f)
		last := pf.send[len(pf.send)-1]
		for _, ms := range []uint32{0, 1, 500, 1234, 2000, 6100, pf.send[len(pf.send)/2], last, last + 1000} {
			at := time.Duration(ms) * time.Millisecond
			n, err := f.PacketForTime(at)
			if err != nil {
				t.Fatal(err)
			}
			if w := pf.want(at); n != w {
				t.Errorf("%s: %v: packet %d, want %d", path, at, n, w)
			}
		}
	}
}

// TestPacketForTimeBadIndex: indexes whose entries all point to packet 0,
// past the end, or to packets without key frames give the scan's answer.
func TestPacketForTimeBadIndex(t *testing.T) {
	f, _ := openTestFile(t, gopFiles(t)[0])
	pf := factsOf(t, f)
	nonKey := uint32(1)
	for pf.key[nonKey] >= 0 {
		nonKey++
	}
	for _, bad := range []uint32{0, nonKey, uint32(f.PacketCount) + 5} {
		g := *f
		si := *f.SimpleIndex
		si.Entries = make([]SimpleIndexEntry, len(si.Entries))
		for i := range si.Entries {
			si.Entries[i].PacketNumber = bad
		}
		g.SimpleIndex = &si
		for sec := 0; sec < 10; sec++ {
			at := time.Duration(sec)*time.Second + 300*time.Millisecond
			n, err := g.PacketForTime(at)
			if err != nil || n != pf.want(at) {
				t.Errorf("all entries on packet %d: %v: packet %d (%v), want %d", bad, at, n, err, pf.want(at))
			}
		}
	}
}

func BenchmarkPacketForTime(b *testing.B) {
	f, _ := openTestFile(b, gopFiles(b)[0])
	noIndex := *f
	noIndex.SimpleIndex = nil
	for _, c := range []struct {
		name string
		f    *File
	}{{"SimpleIndex", f}, {"Scan", &noIndex}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.f.PacketForTime(time.Duration(i%10) * time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
