package asf

import (
	"errors"
	"fmt"
	"time"
)

// SimpleIndex is a Simple Index Object (6.1): for every Time Interval of
// presentation time, the packet holding the nearest preceding key frame.
// Presentation times include the preroll: entry i is for the key frames
// presented at or before i×EntryTimeInterval, media time i×EntryTimeInterval -
// preroll (FFmpeg's asfenc and Microsoft's files agree).
type SimpleIndex struct {
	FileID            GUID
	EntryTimeInterval uint64 // 100-ns units
	MaxPacketCount    uint32
	Entries           []SimpleIndexEntry
}

// SimpleIndexEntry is one entry of a Simple Index Object.
type SimpleIndexEntry struct {
	PacketNumber uint32
	PacketCount  uint16
}

// ParseSimpleIndex parses the body of a Simple Index Object (after its
// 24-byte object header).
func ParseSimpleIndex(b []byte) (*SimpleIndex, error) {
	c := &cursor{b: b}
	s := &SimpleIndex{FileID: c.guid(), EntryTimeInterval: c.u64(), MaxPacketCount: c.u32()}
	n := c.u32()
	if c.err != nil {
		return nil, fmt.Errorf("asf: Simple Index Object: %w", c.err)
	}
	if uint64(n)*6 > uint64(len(b)-c.off) {
		return nil, fmt.Errorf("asf: Simple Index Object: %w: %d entries", ErrTruncated, n)
	}
	s.Entries = make([]SimpleIndexEntry, n)
	for i := range s.Entries {
		s.Entries[i] = SimpleIndexEntry{PacketNumber: c.u32(), PacketCount: c.u16()}
	}
	return s, nil
}

// Packet returns the packet number of the entry for presentation time t,
// preroll included (add the preroll to a media time). File.PacketForTime
// checks what the entry says.
func (s *SimpleIndex) Packet(t time.Duration) (uint32, error) {
	if len(s.Entries) == 0 || s.EntryTimeInterval == 0 {
		return 0, errors.New("asf: empty Simple Index")
	}
	i := uint64(max(t, 0)/100) / s.EntryTimeInterval
	if i >= uint64(len(s.Entries)) {
		i = uint64(len(s.Entries) - 1)
	}
	return s.Entries[i].PacketNumber, nil
}

// Index is an Index Object (6.2): per indexed stream, block-wise offsets of
// packets, one entry per Index Entry Time Interval.
type Index struct {
	EntryTimeInterval uint32 // ms
	Specifiers        []IndexSpecifier
	Blocks            []IndexBlock
}

// IndexBlock is one block: Offsets[entry][specifier] are byte offsets of
// packets relative to BlockPositions[specifier] within the Data Object's
// packets.
type IndexBlock struct {
	Positions []uint64
	Offsets   [][]uint32
}

// ParseIndex parses the body of an Index Object.
func ParseIndex(b []byte) (*Index, error) {
	c := &cursor{b: b}
	x := &Index{EntryTimeInterval: c.u32()}
	nSpec := int(c.u16())
	nBlocks := c.u32()
	if c.err != nil {
		return nil, fmt.Errorf("asf: Index Object: %w", c.err)
	}
	if nSpec == 0 {
		return nil, errors.New("asf: Index Object without specifiers")
	}
	for i := 0; i < nSpec && c.err == nil; i++ {
		x.Specifiers = append(x.Specifiers, IndexSpecifier{StreamNumber: c.u16(), IndexType: c.u16()})
	}
	for i := uint32(0); i < nBlocks && c.err == nil; i++ {
		n := c.u32()
		if uint64(n)*uint64(4*nSpec)+uint64(8*nSpec) > uint64(len(b)-c.off) {
			return nil, fmt.Errorf("asf: Index Object: %w: block of %d entries", ErrTruncated, n)
		}
		blk := IndexBlock{Positions: make([]uint64, nSpec), Offsets: make([][]uint32, n)}
		for j := range blk.Positions {
			blk.Positions[j] = c.u64()
		}
		for j := range blk.Offsets {
			row := make([]uint32, nSpec)
			for k := range row {
				row[k] = c.u32()
			}
			blk.Offsets[j] = row
		}
		x.Blocks = append(x.Blocks, blk)
	}
	if c.err != nil {
		return nil, fmt.Errorf("asf: Index Object: %w", c.err)
	}
	return x, nil
}

// Offset returns the byte offset (from the first data packet) for
// presentation time t, preroll included as for SimpleIndex, using
// specifier spec.
func (x *Index) Offset(t time.Duration, spec int) (uint64, error) {
	if spec < 0 || spec >= len(x.Specifiers) || x.EntryTimeInterval == 0 {
		return 0, errors.New("asf: no such index specifier")
	}
	i := uint64(max(t, 0)/time.Millisecond) / uint64(x.EntryTimeInterval)
	var last *IndexBlock
	var lastRow int
	for bi := range x.Blocks {
		blk := &x.Blocks[bi]
		if len(blk.Offsets) == 0 {
			continue
		}
		if i < uint64(len(blk.Offsets)) {
			return blk.Positions[spec] + uint64(blk.Offsets[i][spec]), nil
		}
		i -= uint64(len(blk.Offsets))
		last, lastRow = blk, len(blk.Offsets)-1
	}
	if last == nil {
		return 0, errors.New("asf: empty Index")
	}
	return last.Positions[spec] + uint64(last.Offsets[lastRow][spec]), nil
}
