package mmsh

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/asf"
)

// Source is content that Handler serves at one path: a file, a live
// broadcast or a server-side playlist. It is deliberately small so that
// any sequence of ASF headers and packets (mmsserver's files, live loops
// and playlists, or a gateway channel) can be served with a few lines.
type Source interface {
	// Describe returns what a Describe request answers: the first entry's
	// ASF header and the entry's features.
	Describe(ctx context.Context) (Entry, error)
	// Play returns a cursor that starts at start (on-demand content; live
	// content starts now). The cursor's first item is a header.
	Play(ctx context.Context, start time.Duration) (Cursor, error)
}

// Entry describes one playlist entry (or the only one).
type Entry struct {
	// Header is the ASF Header Object followed by the 50-byte Data Object
	// header.
	Header []byte
	// Live: the content is a broadcast; packets are paced by the source,
	// not by Handler, and seeking is impossible.
	Live bool
	// Seekable on-demand content (ignored for Live).
	Seekable bool
	// Playlist: this is one of several entries of a server-side playlist;
	// Last: it is the last one.
	Playlist, Last bool
}

// SourceItem is what a Cursor gives: a new entry (Header set) or one ASF data
// packet (full size or with its padding removed) with its LocationId.
type SourceItem struct {
	Entry    *Entry
	Packet   []byte
	Location uint32
}

// Cursor walks a Source. Next returns io.EOF after the last packet of the
// last entry; Close releases it (Handler always calls it).
type Cursor interface {
	Next(ctx context.Context) (SourceItem, error)
	Close() error
}

// File is an on-demand ASF file (seekable).
type File struct {
	f  *os.File
	af *asf.File
	hd []byte
}

// OpenFile opens an ASF file as a Source. Close it when done.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mmsh: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmsh: %w", err)
	}
	af, err := asf.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmsh: %s: %w", path, err)
	}
	hd := append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...)
	return &File{f: f, af: af, hd: hd}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ASF returns the opened file.
func (f *File) ASF() *asf.File { return f.af }

// Describe implements Source.
func (f *File) Describe(context.Context) (Entry, error) {
	return Entry{Header: f.hd, Seekable: true}, nil
}

// Play implements Source.
func (f *File) Play(_ context.Context, start time.Duration) (Cursor, error) {
	n, err := f.packetAt(start)
	if err != nil {
		return nil, err
	}
	e, _ := f.Describe(context.Background())
	return &fileCursor{f: f, entry: &e, next: n}, nil
}

// packetAt finds where to start to present time t: the last packet
// sent at or before t (binary search on send times, which every file has;
// the Simple Index of some muxers is unreliable), then back to the nearest
// packet that starts a key frame, so that decoding can begin there.
func (f *File) packetAt(t time.Duration) (uint64, error) {
	af := f.af
	if t <= 0 || af.PacketCount == 0 {
		return 0, nil
	}
	ms := uint32(min(t.Milliseconds(), 1<<32-1))
	buf := make([]byte, af.PacketSize)
	var p asf.Packet
	lo, hi := uint64(0), af.PacketCount
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		b, err := af.ReadPacket(mid, buf)
		if err != nil {
			return 0, fmt.Errorf("mmsh: seek: %w", err)
		}
		if err := p.Unmarshal(b); err != nil || p.SendTime <= ms {
			lo = mid
		} else {
			hi = mid
		}
	}
	for n, steps := lo, 0; n > 0 && steps < maxKeyFrameWalk; n, steps = n-1, steps+1 {
		b, err := af.ReadPacket(n, buf)
		if err != nil {
			return 0, fmt.Errorf("mmsh: seek: %w", err)
		}
		if key, err := asf.HasKeyFrame(b, 0); err == nil && key {
			return n, nil
		}
	}
	return 0, nil
}

// maxKeyFrameWalk bounds the search for a key frame before a seek target.
const maxKeyFrameWalk = 4096

type fileCursor struct {
	f       *File
	entry   *Entry
	next    uint64
	started bool
	buf     []byte
}

func (c *fileCursor) Next(ctx context.Context) (SourceItem, error) {
	if !c.started {
		c.started = true
		return SourceItem{Entry: c.entry}, nil
	}
	if err := ctx.Err(); err != nil {
		return SourceItem{}, err
	}
	if c.next >= c.f.af.PacketCount {
		return SourceItem{}, io.EOF
	}
	b, err := c.f.af.ReadPacket(c.next, c.buf)
	if err != nil {
		return SourceItem{}, err
	}
	c.buf = b
	c.next++
	return SourceItem{Packet: b, Location: uint32(c.next - 1)}, nil
}

func (c *fileCursor) Close() error { return nil }

// Playlist is a server-side playlist: its entries play one after the
// other in one response, separated by $E (S_FALSE), $C and a new $H
// (2.2.2.6, WMS-PlayResp-Body).
type Playlist []Source

// Describe implements Source: the first entry's header.
func (p Playlist) Describe(ctx context.Context) (Entry, error) {
	if len(p) == 0 {
		return Entry{}, errors.New("mmsh: empty playlist")
	}
	e, err := p[0].Describe(ctx)
	e.Playlist, e.Last, e.Seekable = true, len(p) == 1, false
	return e, err
}

// Play implements Source; start applies to the first entry.
func (p Playlist) Play(ctx context.Context, start time.Duration) (Cursor, error) {
	if len(p) == 0 {
		return nil, errors.New("mmsh: empty playlist")
	}
	return &playlistCursor{list: p, start: start, idx: -1}, nil
}

type playlistCursor struct {
	list  Playlist
	start time.Duration
	idx   int
	cur   Cursor
}

func (c *playlistCursor) Next(ctx context.Context) (SourceItem, error) {
	for {
		if c.cur == nil {
			c.idx++
			if c.idx >= len(c.list) {
				return SourceItem{}, io.EOF
			}
			cur, err := c.list[c.idx].Play(ctx, c.start)
			if err != nil {
				return SourceItem{}, err
			}
			c.cur, c.start = cur, 0
		}
		it, err := c.cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			c.cur.Close()
			c.cur = nil
			continue
		}
		if err != nil {
			return it, err
		}
		if it.Entry != nil {
			e := *it.Entry
			e.Playlist, e.Last, e.Seekable = true, c.idx == len(c.list)-1, false
			it.Entry = &e
		}
		return it, nil
	}
}

func (c *playlistCursor) Close() error {
	if c.cur != nil {
		return c.cur.Close()
	}
	return nil
}

// LiveFile plays an ASF file as a broadcast that started when LiveFile
// was made and loops forever: every viewer joins at the current position
// (at the key frame before it) and gets packets at their send times. On
// each loop send and presentation times grow by the file's duration, and
// LocationIds keep counting (the "virtual file" of 2.2.3.1.2), so players
// see one endless stream. The header is marked Broadcast.
type LiveFile struct {
	File   *File
	Rate   float64 // pace factor; 0 means 1
	start  time.Time
	hd     []byte
	period uint32 // ms of one loop
	once   sync.Once
}

// NewLiveFile starts a broadcast of f now.
func NewLiveFile(f *File, rate float64) *LiveFile {
	if rate <= 0 {
		rate = 1
	}
	return &LiveFile{File: f, Rate: rate, start: time.Now()}
}

func (l *LiveFile) init() {
	l.once.Do(func() {
		var err error
		if l.hd, err = BroadcastHeader(l.File.hd); err != nil { // cannot happen: OpenFile parsed it
			l.hd = l.File.hd
		}
		// One loop lasts the play duration without preroll, and at least
		// past the last send time.
		af := l.File.af
		fp := af.Header.FileProperties
		period := uint64(fp.PlayDuration/10000) - min(fp.Preroll, uint64(fp.PlayDuration/10000))
		var last uint32
		if af.PacketCount > 0 {
			var p asf.Packet
			if b, err := af.ReadPacket(af.PacketCount-1, nil); err == nil && p.Unmarshal(b) == nil {
				last = p.SendTime + uint32(p.Duration)
			}
		}
		l.period = uint32(max(period, uint64(last)+100, 1000))
	})
}

// BroadcastHeader returns hdr (Header Object plus Data Object header)
// marked as a broadcast: File Properties Broadcast set, Seekable cleared,
// Data Object of unknown size. Players then read packets until the end of
// the stream instead of stopping after the file's packet count.
func BroadcastHeader(hdr []byte) ([]byte, error) {
	h, err := asf.ParseHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("mmsh: %w", err)
	}
	h.FileProperties.Broadcast = true
	h.FileProperties.Seekable = false
	return asf.AppendDataObjectHeader(h.Marshal(), h.FileProperties.FileID, 0, h.PacketSize(), true), nil
}

// Describe implements Source.
func (l *LiveFile) Describe(context.Context) (Entry, error) {
	l.init()
	return Entry{Header: l.hd, Live: true}, nil
}

// Play implements Source; start is ignored.
func (l *LiveFile) Play(context.Context, time.Duration) (Cursor, error) {
	l.init()
	elapsed := uint64(float64(time.Since(l.start).Milliseconds()) * l.Rate)
	loop := elapsed / uint64(l.period)
	n, err := l.File.packetAt(time.Duration(elapsed%uint64(l.period)) * time.Millisecond)
	if err != nil {
		return nil, err
	}
	e := Entry{Header: l.hd, Live: true}
	count := l.File.af.PacketCount
	return &liveCursor{fileCursor: fileCursor{f: l.File, entry: &e, next: n}, l: l, loop: loop,
		loc: loop*count + n}, nil
}

type liveCursor struct {
	fileCursor
	l     *LiveFile
	loop  uint64 // loops done: times are shifted by loop*period
	loc   uint64 // LocationId in the virtual file
	timer *time.Timer
	pkt   asf.Packet
	out   []byte
}

func (c *liveCursor) Next(ctx context.Context) (SourceItem, error) {
	if c.started && c.next >= c.f.af.PacketCount && c.f.af.PacketCount > 0 {
		c.next = 0
		c.loop++
	}
	it, err := c.fileCursor.Next(ctx)
	if err != nil || it.Packet == nil {
		return it, err
	}
	it.Location = uint32(c.loc)
	c.loc++
	if err := c.pkt.Unmarshal(it.Packet); err != nil {
		return it, nil // sent as is; the client judges
	}
	shift := uint32(c.loop * uint64(c.l.period))
	send := c.pkt.SendTime + shift
	if shift != 0 {
		if c.out, err = shiftTimes(c.out[:0], &c.pkt, shift, c.f.af.PacketSize); err == nil {
			it.Packet = c.out
		}
	}
	due := c.l.start.Add(time.Duration(float64(time.Duration(send)*time.Millisecond) / c.l.Rate))
	if err := sleepUntil(ctx, &c.timer, due); err != nil {
		return SourceItem{}, err
	}
	return it, nil
}

func (c *liveCursor) Close() error {
	if c.timer != nil {
		c.timer.Stop()
	}
	return nil
}

// shiftTimes re-encodes p with send and presentation times later by shift
// ms: Send Time, the presentation time in each payload's replicated data
// (ASF 5.2.3.1) or, for compressed payloads, its offset field (5.2.3.3).
func shiftTimes(dst []byte, p *asf.Packet, shift uint32, packetSize int) ([]byte, error) {
	p.SendTime += shift
	for i := range p.Payloads {
		pl := &p.Payloads[i]
		pl.PresentationTime += shift
		if !pl.Compressed && len(pl.ReplicatedData) >= 8 {
			rep := append([]byte(nil), pl.ReplicatedData...)
			binary.LittleEndian.PutUint32(rep[4:], binary.LittleEndian.Uint32(rep[4:])+shift)
			pl.ReplicatedData = rep
		}
	}
	return p.Append(dst, packetSize)
}

// sleepUntil waits until t or the end of ctx, reusing *timer.
func sleepUntil(ctx context.Context, timer **time.Timer, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	if *timer == nil {
		*timer = time.NewTimer(d)
	} else {
		(*timer).Reset(d)
	}
	select {
	case <-ctx.Done():
		(*timer).Stop()
		return ctx.Err()
	case <-(*timer).C:
		return nil
	}
}

// LivePacket is one packet of a Live source: its LocationId in the
// broadcast's virtual file and its bytes (full size or padding removed;
// never modified by Handler).
type LivePacket struct {
	Location uint32
	Data     []byte
}

// Live adapts any broadcast with subscribers (mmsserver's live loops, a
// gateway channel) to a Source: each Play subscribes, receives packets
// until the channel closes (the end of the broadcast, $E) and
// unsubscribes when the viewer leaves. Packets are paced by the
// broadcaster, not by Handler.
type Live struct {
	// Header returns the current ASF header (Header Object and Data
	// Object header), normally marked Broadcast (see BroadcastHeader).
	Header func() []byte
	// Subscribe returns the packets from now on (from the last key frame,
	// ideally) and the function that ends the subscription.
	Subscribe func(ctx context.Context) (<-chan LivePacket, func())
}

// Describe implements Source.
func (l *Live) Describe(context.Context) (Entry, error) {
	h := l.Header()
	if len(h) == 0 {
		return Entry{}, errors.New("mmsh: live source has no header yet")
	}
	return Entry{Header: h, Live: true}, nil
}

// Play implements Source; start is ignored.
func (l *Live) Play(ctx context.Context, _ time.Duration) (Cursor, error) {
	e, err := l.Describe(ctx)
	if err != nil {
		return nil, err
	}
	ch, cancel := l.Subscribe(ctx)
	return &liveSubCursor{entry: &e, ch: ch, cancel: cancel}, nil
}

type liveSubCursor struct {
	entry   *Entry
	started bool
	ch      <-chan LivePacket
	cancel  func()
}

func (c *liveSubCursor) Next(ctx context.Context) (SourceItem, error) {
	if !c.started {
		c.started = true
		return SourceItem{Entry: c.entry}, nil
	}
	select {
	case <-ctx.Done():
		return SourceItem{}, ctx.Err()
	case p, ok := <-c.ch:
		if !ok {
			return SourceItem{}, io.EOF
		}
		return SourceItem{Packet: p.Data, Location: p.Location}, nil
	}
}

func (c *liveSubCursor) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	return nil
}
