package asf

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

func payloadsEqual(a, b []Payload) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !bytes.Equal(x.Data, y.Data) || !bytes.Equal(x.ReplicatedData, y.ReplicatedData) {
			return false
		}
		x.Data, y.Data, x.ReplicatedData, y.ReplicatedData = nil, nil, nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// TestPacketLengthTypes builds packets with every combination of the
// length-type flags (5.2.2), single and multiple payloads, compressed
// payloads and error correction data, and checks that they parse to what
// was built, and that padding removal and restoration keep them intact.
func TestPacketLengthTypes(t *testing.T) {
	cases := 0
	for _, ec := range []bool{false, true} {
		for seqT := uint8(0); seqT < 4; seqT++ {
			for padT := uint8(0); padT < 4; padT++ {
				for lenT := uint8(0); lenT < 4; lenT++ {
					for repT := uint8(0); repT < 4; repT++ {
						for offT := uint8(0); offT < 4; offT++ {
							for monT := uint8(0); monT < 4; monT++ {
								for plT := uint8(0); plT < 4; plT++ {
									for _, comp := range []bool{false, true} {
										if comp && (repT == 0 || plT == 0) {
											continue
										}
										checkPacketVariant(t, ec, seqT, padT, lenT, repT, offT, monT, plT, comp)
										cases++
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d variants", cases)
}

func checkPacketVariant(t *testing.T, ec bool, seqT, padT, lenT, repT, offT, monT, plT uint8, comp bool) {
	name := fmt.Sprintf("ec=%v seq=%d pad=%d len=%d rep=%d off=%d mon=%d pl=%d comp=%v",
		ec, seqT, padT, lenT, repT, offT, monT, plT, comp)
	p := Packet{LengthTypeFlags: seqT<<1 | padT<<3 | lenT<<5, PropertyFlags: repT | offT<<2 | monT<<4 | 1<<6,
		Sequence: uint32(seqT) * 3 & uint32(maxField(seqT)), SendTime: 123456, Duration: 40,
		MultiplePayloads: plT != 0, PayloadFlags: plT << 6}
	if ec {
		p.ErrorCorrectionFlags, p.ErrorCorrectionData = 0x82, []byte{0, 0}
	}
	mk := func(stream uint8, key bool, n int) Payload {
		pl := Payload{StreamNumber: stream, KeyFrame: key, MediaObjectNumber: 7 & uint32(maxField(monT)),
			Data: bytes.Repeat([]byte{stream}, n)}
		switch {
		case comp:
			pl.Compressed, pl.PresentationTimeDelta = true, 40
			pl.PresentationTime = 200 & uint32(maxField(offT))
			pl.Data = []byte{3, 1, 2, 3, 2, 4, 5}
		case repT != 0:
			pl.MediaObjectSize, pl.PresentationTime = uint32(n)+uint32(maxField(offT)&5), 3100
			pl.OffsetIntoMediaObject = uint32(maxField(offT) & 5)
		default:
			pl.ReplicatedData = []byte{}
		}
		return pl
	}
	p.Payloads = []Payload{mk(2, true, 10)}
	if p.MultiplePayloads {
		p.Payloads = append(p.Payloads, mk(1, false, 12))
	}
	size := 0
	if padT != 0 {
		b, err := p.Append(nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		size = len(b) + 9
	}
	b, err := p.Append(nil, size)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var q Packet
	if err := q.Unmarshal(b); err != nil {
		t.Fatalf("%s: %v\n%x", name, err, b)
	}
	if q.SendTime != p.SendTime || q.Duration != p.Duration || q.Sequence != p.Sequence ||
		q.MultiplePayloads != p.MultiplePayloads || int(q.PacketLength) != len(b) ||
		!bytes.Equal(q.ErrorCorrectionData, p.ErrorCorrectionData) {
		t.Fatalf("%s: parsed %+v", name, q)
	}
	if padT != 0 && q.PaddingLength != 9 {
		t.Fatalf("%s: padding %d", name, q.PaddingLength)
	}
	for i := range p.Payloads {
		if p.Payloads[i].ReplicatedData == nil {
			p.Payloads[i].ReplicatedData = q.Payloads[i].ReplicatedData
		}
	}
	if !payloadsEqual(p.Payloads, q.Payloads) {
		t.Fatalf("%s: payloads\n%+v\n%+v", name, p.Payloads, q.Payloads)
	}
	again, err := q.Append(nil, len(b))
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("%s: re-encoded differs (%v)", name, err)
	}
	checkStripRestore(t, name, b, len(b), &q)
	// a larger packet size: restoration grows or adds the Padding Length field
	if target := len(b) + 30; lenT != 1 || target <= 255 {
		r, err := RestorePadding(nil, b, target)
		if err != nil {
			t.Fatalf("%s: restore to %d: %v", name, target, err)
		}
		var z Packet
		if err := z.Unmarshal(r); err != nil || len(r) != target || !payloadsEqual(z.Payloads, q.Payloads) {
			t.Fatalf("%s: restored to %d: len %d err %v", name, target, len(r), err)
		}
	}
}

// checkStripRestore strips the padding of pkt and restores it, expecting
// the same payloads after stripping and the same bytes after restoring.
func checkStripRestore(t *testing.T, name string, pkt []byte, size int, orig *Packet) {
	t.Helper()
	s, err := StripPadding(nil, pkt, false)
	if err != nil {
		t.Fatalf("%s: strip: %v", name, err)
	}
	var sp Packet
	if err := sp.Unmarshal(s); err != nil {
		t.Fatalf("%s: stripped packet: %v", name, err)
	}
	if sp.PaddingLength != 0 || !payloadsEqual(sp.Payloads, orig.Payloads) {
		t.Fatalf("%s: stripped packet parses differently", name)
	}
	if orig.layout.padType != 0 && len(s) != len(pkt)-int(orig.PaddingLength) {
		t.Fatalf("%s: stripped %d of %d bytes, padding was %d", name, len(pkt)-len(s), len(pkt), orig.PaddingLength)
	}
	r, err := RestorePadding(nil, s, size)
	if err != nil {
		t.Fatalf("%s: restore: %v", name, err)
	}
	if !bytes.Equal(r, pkt) {
		// Padding Data that was not zero cannot come back: compare the rest.
		end := int(orig.PacketLength)
		padStart := end - int(orig.PaddingLength)
		if len(r) != len(pkt) || !bytes.Equal(r[:padStart], pkt[:padStart]) || !bytes.Equal(r[end:], pkt[end:]) ||
			!allZero(r[padStart:end]) || allZero(pkt[padStart:end]) {
			t.Fatalf("%s: restored packet differs", name)
		}
		nonZeroPadding++
	}
}

// nonZeroPadding counts packets seen whose Padding Data was not zeros.
var nonZeroPadding int

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestStripRestoreEveryPacket: for every packet of every test file,
// removing and restoring the padding gives back the original bytes.
func TestStripRestoreEveryPacket(t *testing.T) {
	for _, path := range allFiles(t) {
		f, _ := openTestFile(t, path)
		var p Packet
		buf := make([]byte, f.PacketSize)
		stripped := 0
		nonZeroPadding = 0
		for n := uint64(0); n < f.PacketCount; n++ {
			b, err := f.ReadPacket(n, buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			checkStripRestore(t, fmt.Sprintf("%s packet %d", path, n), b, f.PacketSize, &p)
			if p.PaddingLength > 0 {
				stripped++
			}
			m, err := StripPadding(nil, b, true)
			if err != nil {
				t.Fatal(err)
			}
			if !p.MultiplePayloads && !bytes.Equal(m, b) {
				t.Fatalf("%s packet %d: multiOnly stripped a single-payload packet", path, n)
			}
		}
		if stripped == 0 {
			t.Errorf("%s: no packet with padding", path)
		}
		if nonZeroPadding > 0 {
			// glass.wmv: Microsoft's encoder left stale bytes in Padding Data.
			t.Logf("%s: %d of %d packets had non-zero Padding Data, restored as zeros", path, nonZeroPadding, f.PacketCount)
		}
	}
}

// TestPacketBadInput: every truncation of real packets and lying fields
// give errors, not panics.
func TestPacketBadInput(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "glass.wmv"))
	b, err := f.ReadPacket(2, nil) // single payload, BYTE Padding Length
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for n := 0; n < len(b); n++ {
		_ = p.Unmarshal(b[:n]) // must not panic
		_, _ = StripPadding(nil, b[:n], false)
		_, _ = RestorePadding(nil, b[:n], f.PacketSize)
		_, _ = HasKeyFrame(b[:n], 0)
	}
	if err := p.Unmarshal(nil); !errors.Is(err, ErrPacket) {
		t.Errorf("empty packet: %v", err)
	}
	if err := p.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	// Padding Length larger than the packet
	bad := append([]byte(nil), b...)
	writeField(bad, p.layout.padOff, p.layout.padType, 255)
	if err := p.Unmarshal(bad[:200]); !errors.Is(err, ErrPacket) {
		t.Errorf("oversized padding: %v", err)
	}
	if _, err := RestorePadding(nil, b, len(b)-1); err == nil {
		t.Error("restoring to a smaller packet size accepted")
	}
}

func TestSubPayload(t *testing.T) {
	sub, rest, err := SubPayload([]byte{2, 'a', 'b', 1, 'c'})
	if err != nil || string(sub) != "ab" || len(rest) != 2 {
		t.Fatalf("%q %q %v", sub, rest, err)
	}
	if _, _, err := SubPayload([]byte{5, 1}); !errors.Is(err, ErrPacket) {
		t.Errorf("lying sub-payload length: %v", err)
	}
}

// TestPacketWithoutPayloads: multiple payloads with a count of 0 is an
// empty (filler) packet, not an error; a payload length type of 0 is.
func TestPacketWithoutPayloads(t *testing.T) {
	b := []byte{0x82, 0, 0, 0x11, 0x5d, 4, 0, 0x10, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0}
	var p Packet
	if err := p.Unmarshal(b); err != nil || len(p.Payloads) != 0 || p.SendTime != 16 || p.PaddingLength != 4 {
		t.Fatalf("%+v %v", p, err)
	}
	b[13] = 0x01 // one payload, length type 0
	if err := p.Unmarshal(b); !errors.Is(err, ErrPacket) {
		t.Errorf("payload length type 0: %v", err)
	}
}
