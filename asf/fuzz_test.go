package asf

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseHeader: any input gives a header or an error; a header that
// parses marshals back to its bytes and parses again.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			return
		}
		m := h.Marshal()
		if !bytes.Equal(m, h.Raw) {
			t.Fatalf("Marshal differs from Raw")
		}
		if _, err := ParseHeader(m); err != nil {
			t.Fatalf("marshalled header does not parse: %v", err)
		}
		_ = NewReassembler(h)
		// Stream selection on whatever the header declares: only declared
		// streams, and CheckStreams accepts what SelectStreams chose.
		for _, budget := range []int64{0, 1, 1 << 20} {
			sel := h.SelectStreams(budget, "en")
			for _, n := range sel {
				if h.Stream(n) == nil {
					t.Fatalf("selected undeclared stream %d", n)
				}
			}
			if _, err := h.CheckStreams(sel); len(sel) > 0 && err != nil {
				t.Fatalf("CheckStreams(%v): %v", sel, err)
			}
			_ = h.StreamsBitrate(sel)
		}
	})
}

// FuzzPacketUnmarshal: any input gives a packet or an error; a packet that
// parses keeps its payloads through padding removal and restoration, and
// comes back byte for byte when its padding was zeros.
func FuzzPacketUnmarshal(f *testing.F) {
	f.Add([]byte{0x82, 0, 0, 0x08, 0x5d, 0x02, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0, 'x', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		if err := p.Unmarshal(data); err != nil {
			_, _ = StripPadding(nil, data, false)
			_, _ = RestorePadding(nil, data, len(data)+10)
			return
		}
		for _, pl := range p.Payloads {
			for rest := pl.Data; pl.Compressed && len(rest) > 0; {
				var err error
				if _, rest, err = SubPayload(rest); err != nil {
					break
				}
			}
		}
		s, err := StripPadding(nil, data, false)
		if err != nil {
			t.Fatalf("strip of a valid packet: %v", err)
		}
		var sp Packet
		if err := sp.Unmarshal(s); err != nil || !payloadsEqual(sp.Payloads, p.Payloads) {
			t.Fatalf("stripped packet parses differently: %v", err)
		}
		r, err := RestorePadding(nil, s, len(data))
		if err != nil {
			return // e.g. a Packet Length field too small for the full size
		}
		var rp Packet
		if err := rp.Unmarshal(r); err != nil || !payloadsEqual(rp.Payloads, p.Payloads) || len(r) != len(data) {
			t.Fatalf("restored packet parses differently: %v", err)
		}
		l := p.layout
		if l.end == len(data) && l.padType != 0 && allZero(data[l.end-l.padding:]) && !bytes.Equal(r, data) {
			t.Fatalf("restored bytes differ\n%x\n%x", r, data)
		}
	})
}

// FuzzReassembler feeds packets cut from the input (a 2-byte packet size,
// then packets) to a Reassembler: errors are fine, panics and objects
// beyond the size limit are not.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		size := int(binary.LittleEndian.Uint16(data))
		data = data[2:]
		if size < 8 {
			return
		}
		r := NewReassembler(nil)
		r.MaxObjectSize = 1 << 16
		var p Packet
		for len(data) > 0 {
			n := min(size, len(data))
			if err := p.Unmarshal(data[:n]); err == nil {
				objs, _ := r.Push(&p)
				for _, o := range objs {
					if len(o.Data) > r.MaxObjectSize {
						t.Fatalf("object of %d bytes", len(o.Data))
					}
				}
			}
			data = data[n:]
		}
		_ = r.Flush()
	})
}
