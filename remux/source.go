package remux

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mmsgate/mmsgate/asf"
)

// Item is one step of a source: a header (the first, or a new playlist
// entry) or one full-size ASF data packet. It mirrors mmsclient.Item.
type Item struct {
	Header []byte // Header Object, optionally followed by the Data Object header
	Packet []byte
}

// Source gives a channel's items in order; io.EOF at the end. mmsclient's
// Session satisfies it through a small adapter; files and tests too.
type Source interface {
	Next(ctx context.Context) (Item, error)
}

// Feed copies src into p until src ends (io.EOF: Feed returns nil after
// p.Discontinuity) or fails or ctx ends (the error is returned, after
// p.Discontinuity). A *ContentError from a header does not stop it: the
// entry still goes to ASF viewers.
func Feed(ctx context.Context, src Source, p *Pipeline) error {
	for {
		it, err := src.Next(ctx)
		if err != nil {
			p.Discontinuity()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch {
		case it.Header != nil:
			if err := p.WriteHeader(it.Header); err != nil {
				var ce *ContentError
				if !errors.As(err, &ce) {
					return err
				}
			}
		case it.Packet != nil:
			if err := p.WritePacket(it.Packet); err != nil {
				return err
			}
		}
	}
}

// FileSource plays ASF files one after the other, as a server-side playlist
// would: each file's header, then its packets, paced by their send times.
// An Item's Packet is valid until the next call of Next (Pipeline copies it).
type FileSource struct {
	// Speed is the pace relative to real time (2 = twice as fast); 0 means
	// as fast as the reader takes them.
	Speed float64
	// Loop starts over after the last file.
	Loop bool

	paths []string
	i     int
	f     *os.File
	af    *asf.File
	n     uint64
	start time.Time // wall time of the file's first packet
	first uint32    // its send time
	buf   []byte    // reused: a Packet is valid until the next call
}

// NewFileSource returns a source playing paths in order.
func NewFileSource(speed float64, loop bool, paths ...string) *FileSource {
	return &FileSource{Speed: speed, Loop: loop, paths: paths}
}

// Next implements Source.
func (s *FileSource) Next(ctx context.Context) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	for s.af == nil || s.n >= s.af.PacketCount {
		if err := s.open(); err != nil {
			return Item{}, err
		}
		if s.af != nil && s.n == 0 {
			hdr := append(append([]byte(nil), s.af.HeaderBytes...), s.af.DataHeader...)
			return Item{Header: hdr}, nil
		}
	}
	pkt, err := s.af.ReadPacket(s.n, s.buf)
	s.buf = pkt
	if err != nil {
		return Item{}, fmt.Errorf("remux: %s packet %d: %w", s.f.Name(), s.n, err)
	}
	s.n++
	if s.Speed > 0 {
		var pp asf.Packet
		if pp.Unmarshal(pkt) == nil {
			if s.start.IsZero() {
				s.start, s.first = time.Now(), pp.SendTime
			}
			due := s.start.Add(time.Duration(float64(time.Duration(pp.SendTime-s.first)*time.Millisecond) / s.Speed))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return Item{}, ctx.Err()
				case <-t.C:
				}
			}
		}
	}
	return Item{Packet: pkt}, nil
}

// open moves to the next file.
func (s *FileSource) open() error {
	if s.f != nil {
		s.f.Close()
		s.f, s.af = nil, nil
	}
	if s.i >= len(s.paths) {
		if !s.Loop || len(s.paths) == 0 {
			return io.EOF
		}
		s.i = 0
	}
	f, err := os.Open(s.paths[s.i])
	s.i++
	if err != nil {
		return fmt.Errorf("remux: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("remux: %w", err)
	}
	af, err := asf.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return fmt.Errorf("remux: %s: %w", f.Name(), err)
	}
	s.f, s.af, s.n, s.start = f, af, 0, time.Time{}
	return nil
}

// Close closes the current file.
func (s *FileSource) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// ReaderSource reads an ASF stream from r: the Header Object, the Data
// Object header, then data packets of the header's packet size until EOF.
// It reads what ServeASF writes, a file, or a progressive HTTP response.
type ReaderSource struct {
	r          io.Reader
	packetSize int
}

// NewReaderSource returns a source reading r.
func NewReaderSource(r io.Reader) *ReaderSource { return &ReaderSource{r: r} }

// Next implements Source. It does not honour ctx while blocked in a read;
// close the reader to stop it.
func (s *ReaderSource) Next(ctx context.Context) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	if s.packetSize == 0 {
		var pre [24]byte
		if _, err := io.ReadFull(s.r, pre[:]); err != nil {
			return Item{}, fmt.Errorf("remux: ASF header: %w", noEOF(err))
		}
		if [16]byte(pre[:16]) != asf.HeaderObjectID {
			return Item{}, fmt.Errorf("remux: %w", asf.ErrNotHeader)
		}
		size := binary.LittleEndian.Uint64(pre[16:])
		if size < 30 || size > asf.MaxHeaderSize {
			return Item{}, fmt.Errorf("remux: Header Object of %d bytes", size)
		}
		// grown as bytes arrive: a size field is no reason to allocate 16 MB
		buf := bytes.NewBuffer(make([]byte, 0, min(int(size)+asf.DataObjectHeaderSize, 64<<10)))
		buf.Write(pre[:])
		if _, err := io.CopyN(buf, s.r, int64(size)-24+asf.DataObjectHeaderSize); err != nil {
			return Item{}, fmt.Errorf("remux: ASF header: %w", noEOF(err))
		}
		hdr := buf.Bytes()
		h, err := asf.ParseHeader(hdr)
		if err != nil {
			return Item{}, fmt.Errorf("remux: %w", err)
		}
		if [16]byte(hdr[size:size+16]) != asf.DataObjectID {
			return Item{}, errors.New("remux: no Data Object after the header")
		}
		ps := h.PacketSize()
		if ps <= 0 || ps > asf.MaxPacketSize {
			return Item{}, fmt.Errorf("remux: packet size %d", ps)
		}
		s.packetSize = ps
		return Item{Header: hdr}, nil
	}
	pkt := make([]byte, s.packetSize)
	if _, err := io.ReadFull(s.r, pkt); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Item{}, fmt.Errorf("remux: truncated packet: %w", err)
		}
		return Item{}, err
	}
	return Item{Packet: pkt}, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
