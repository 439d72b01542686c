package mmsclient

import (
	"fmt"
	"slices"
)

// headerAssembly collects the ASF file header from the Payload of Data
// packets: LocationId 0, 1, 2, ... and AFFlags 0x08 or 0x0C on the last one
// (2.2.2, 3.1.5.12). Parts may arrive out of order over UDP.
type headerAssembly struct {
	inc     uint8 // playIncarnation of the parts (the ReadBlock's, or 0xFF)
	max     int   // cap on the assembled size
	parts   map[uint32][]byte
	size    int
	last    int64 // LocationId of the last part, -1 while unknown
	started bool  // a part has arrived
}

// maxHeaderParts bounds the number of Data packets of one header.
const maxHeaderParts = 4096

func newHeaderAssembly(inc uint8, max int) *headerAssembly {
	return &headerAssembly{inc: inc, max: max, parts: map[uint32][]byte{}, last: -1}
}

// add stores one part and reports whether the header is complete.
func (h *headerAssembly) add(d dataPacket) (bool, error) {
	h.started = true
	if d.LocationID >= maxHeaderParts {
		return false, fmt.Errorf("mmsclient: ASF file header part %d: more than %d parts", d.LocationID, maxHeaderParts)
	}
	if _, dup := h.parts[d.LocationID]; !dup {
		h.size += len(d.Payload)
		if h.size > h.max {
			return false, fmt.Errorf("mmsclient: ASF file header larger than %d bytes", h.max)
		}
		h.parts[d.LocationID] = slices.Clone(d.Payload)
	}
	if d.AFFlags&afHeaderLast != 0 {
		if h.last >= 0 && h.last != int64(d.LocationID) {
			return false, fmt.Errorf("mmsclient: ASF file header ends twice (parts %d and %d)", h.last, d.LocationID)
		}
		h.last = int64(d.LocationID)
	}
	return h.last >= 0 && len(h.parts) >= int(h.last)+1 && h.complete(), nil
}

func (h *headerAssembly) complete() bool {
	for i := uint32(0); int64(i) <= h.last; i++ {
		if _, ok := h.parts[i]; !ok {
			return false
		}
	}
	return true
}

// bytes returns the assembled header (Header Object + Data Object header).
func (h *headerAssembly) bytes() []byte {
	b := make([]byte, 0, h.size)
	for i := uint32(0); int64(i) <= h.last; i++ {
		b = append(b, h.parts[i]...)
	}
	return b
}

// isHeaderPart reports whether a Data packet carries a piece of an ASF
// file header by its AFFlags (2.2.2). Only meaningful while a header is
// expected: ASF data packets use AFFlags as a sequence number.
func isHeaderPart(d dataPacket) bool {
	return d.AFFlags == afHeaderPart || d.AFFlags == afHeaderLast || d.AFFlags == afHeaderPart|afHeaderLast
}
