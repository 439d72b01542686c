package asf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// TestPacketForTimeSimpleIndex: glass.wmv has a Simple Index Object; the
// packet it gives for a time starts a video key frame no later than that
// time.
func TestPacketForTimeSimpleIndex(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "glass.wmv"))
	if f.SimpleIndex == nil || f.SimpleIndex.EntryTimeInterval != 10_000_000 {
		t.Fatalf("simple index: %+v", f.SimpleIndex)
	}
	preroll := f.Header.FileProperties.Preroll
	var p Packet
	last := uint64(0)
	for sec := 0; sec < 29; sec++ {
		at := time.Duration(sec) * time.Second
		n, err := f.PacketForTime(at)
		if err != nil {
			t.Fatal(err)
		}
		if n < last {
			t.Fatalf("%v: packet %d before packet %d of an earlier time", at, n, last)
		}
		last = n
		b, err := f.ReadPacket(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, pl := range p.Payloads {
			if pl.StreamNumber == 2 && pl.KeyFrame && pl.OffsetIntoMediaObject == 0 &&
				time.Duration(uint64(pl.PresentationTime)-preroll)*time.Millisecond <= at {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%v: packet %d starts no video key frame at or before that time", at, n)
		}
	}
}

// TestIndexObject: an Index Object appended to a file is read by OpenFile,
// its blocks are looked up in order, and PacketForTime uses one that is keyed
// like the Simple Index (presentation time, preroll included).
func TestIndexObject(t *testing.T) {
	raw, err := readFileBytes(generatedFiles(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	f, _ := openTestFile(t, generatedFiles(t)[0])
	ps := uint32(f.PacketSize)
	var body []byte
	body = putU32(body, 1000) // interval, ms
	body = putU16(body, 1)    // specifiers
	body = putU32(body, 2)    // blocks
	body = putU16(body, 1)
	body = putU16(body, 1)
	body = putU32(body, 2) // block 1: 2 entries
	body = putU64(body, 0)
	body = putU32(body, 0)
	body = putU32(body, 3*ps)
	body = putU32(body, 1) // block 2: 1 entry, based at packet 5
	body = putU64(body, uint64(5*ps))
	body = putU32(body, ps)
	file := append(append([]byte(nil), raw...), makeObject(IndexObjectID, body)...)
	g, err := OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if g.Index == nil || len(g.Index.Blocks) != 2 {
		t.Fatalf("index: %+v", g.Index)
	}
	for _, c := range []struct {
		at   time.Duration
		want uint64
	}{{0, 0}, {1500 * time.Millisecond, 3}, {2 * time.Second, 6}, {time.Hour, 6}} {
		off, err := g.Index.Offset(c.at, 0)
		if err != nil || off != c.want*uint64(ps) {
			t.Errorf("%v: offset %d (%v), want packet %d", c.at, off, err, c.want)
		}
	}

	// a true index of the video stream, one entry a second
	pf := factsOf(t, f)
	preroll := time.Duration(f.Header.FileProperties.Preroll) * time.Millisecond
	var good []byte
	good = putU32(good, 1000)
	good = putU16(good, 1)
	good = putU32(good, 1)
	good = putU16(good, uint16(pf.video))
	good = putU16(good, 3) // Nearest Past Cleanpoint
	const entries = 8
	good = putU32(good, entries)
	good = putU64(good, 0)
	for i := range entries {
		n := 0
		for m, k := range pf.key {
			if k >= 0 && k+preroll <= time.Duration(i)*time.Second {
				n = m
			}
		}
		good = putU32(good, uint32(n)*ps)
	}
	file = append(append([]byte(nil), raw...), makeObject(IndexObjectID, good)...)
	if g, err = OpenFile(bytes.NewReader(file), int64(len(file))); err != nil {
		t.Fatal(err)
	}
	g.SimpleIndex = nil
	for _, ms := range []int{0, 700, 1000, 1500, 2100, 2900, 10000} {
		at := time.Duration(ms) * time.Millisecond
		if n, err := g.PacketForTime(at); err != nil || n != pf.want(at) {
			t.Errorf("%v: packet %d (%v), want %d", at, n, err, pf.want(at))
		}
	}

	for cut := 0; cut < len(body); cut++ {
		if _, err := ParseIndex(body[:cut]); err == nil {
			t.Fatalf("index cut at %d accepted", cut)
		}
	}
	lying := append([]byte(nil), body...)
	lying[6] = 0xff // block count
	if _, err := ParseIndex(lying); !errors.Is(err, ErrTruncated) {
		t.Errorf("lying block count: %v", err)
	}
	if _, err := ParseSimpleIndex(make([]byte, 10)); err == nil {
		t.Error("short simple index accepted")
	}
}

// TestOpenFileBadInput: truncated files and files that are not ASF.
func TestOpenFileBadInput(t *testing.T) {
	raw, err := readFileBytes(filepath.Join("testdata", "media", "jeanne.wma"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, 30, 100, 2000, 2137} {
		if _, err := OpenFile(bytes.NewReader(raw[:n]), int64(n)); err == nil {
			t.Errorf("file cut at %d bytes opened", n)
		}
	}
	// a lying Data Object size: the packets that are there
	lying := append([]byte(nil), raw...)
	hsize := binary.LittleEndian.Uint64(lying[16:])
	binary.LittleEndian.PutUint64(lying[hsize+16:], 10)
	if f, err := OpenFile(bytes.NewReader(lying), int64(len(lying))); err != nil || f.PacketCount != 153 {
		t.Errorf("Data Object size 10: %v", err)
	}
	// cut in the middle of the packets: what is there is readable
	f, err := OpenFile(bytes.NewReader(raw[:50000]), 50000)
	if err != nil {
		t.Fatal(err)
	}
	if f.PacketCount != (50000-uint64(f.DataOffset))/uint64(f.PacketSize) {
		t.Errorf("%d packets in a truncated file", f.PacketCount)
	}
	if _, err := f.ReadPacket(f.PacketCount, nil); !errors.Is(err, io.EOF) {
		t.Errorf("packet past the end: %v", err)
	}
}

func TestAppendDataObjectHeader(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "glass.wmv"))
	got := AppendDataObjectHeader(nil, f.Header.FileProperties.FileID, f.PacketCount, f.PacketSize, false)
	if !bytes.Equal(got, f.DataHeader) {
		t.Errorf("Data Object header\n%x\nfile has\n%x", got, f.DataHeader)
	}
	live := AppendDataObjectHeader(nil, f.Header.FileProperties.FileID, 7, f.PacketSize, true)
	if len(live) != DataObjectHeaderSize || !bytes.Equal(live[16:24], make([]byte, 8)) {
		t.Errorf("live Data Object header %x", live)
	}
}
