package asf

import (
	"encoding/binary"
	"fmt"
	"io"
)

// File is an ASF file opened for random access to its data packets.
type File struct {
	Header      *Header
	HeaderBytes []byte // the Header Object
	DataHeader  []byte // the 50-byte Data Object header
	DataOffset  int64  // offset of the first data packet
	PacketSize  int
	PacketCount uint64
	SimpleIndex *SimpleIndex // first Simple Index Object, or nil
	Index       *Index       // Index Object, or nil

	r io.ReaderAt
}

// OpenFile reads the header, the Data Object header and the index objects
// after the data of an ASF file of size bytes.
func OpenFile(r io.ReaderAt, size int64) (*File, error) {
	var fixed [headerObjectFixedSize]byte
	if _, err := r.ReadAt(fixed[:], 0); err != nil {
		return nil, fmt.Errorf("asf: reading header: %w", err)
	}
	hsize := binary.LittleEndian.Uint64(fixed[16:])
	if GUID(fixed[:16]) != HeaderObjectID {
		return nil, ErrNotHeader
	}
	if hsize < headerObjectFixedSize || hsize > MaxHeaderSize || int64(hsize)+DataObjectHeaderSize > size {
		return nil, fmt.Errorf("asf: Header Object size %d in a file of %d bytes", hsize, size)
	}
	buf := make([]byte, hsize+DataObjectHeaderSize)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("asf: reading header: %w", err)
	}
	h, err := ParseHeader(buf)
	if err != nil {
		return nil, err
	}
	f := &File{Header: h, HeaderBytes: buf[:hsize:hsize], DataHeader: buf[hsize:], r: r,
		DataOffset: int64(hsize) + DataObjectHeaderSize, PacketSize: h.PacketSize()}
	if GUID(f.DataHeader[:16]) != DataObjectID {
		return nil, fmt.Errorf("asf: no Data Object after the header (found %s)", GUID(f.DataHeader[:16]))
	}
	dsize := binary.LittleEndian.Uint64(f.DataHeader[16:])
	avail := uint64(size - int64(hsize))
	if dsize < DataObjectHeaderSize || dsize > avail {
		dsize = avail // broadcast (size 0), lying and truncated files: what is there
	}
	f.PacketCount = (dsize - DataObjectHeaderSize) / uint64(f.PacketSize)
	if n := binary.LittleEndian.Uint64(f.DataHeader[40:]); n != 0 && n < f.PacketCount {
		f.PacketCount = n
	}
	if err := f.readIndexes(int64(hsize)+int64(dsize), size); err != nil {
		return nil, err
	}
	return f, nil
}

// readIndexes parses the top-level objects after the Data Object.
func (f *File) readIndexes(off, size int64) error {
	for off+objectHeaderSize <= size {
		var oh [objectHeaderSize]byte
		if _, err := f.r.ReadAt(oh[:], off); err != nil {
			return fmt.Errorf("asf: reading object at %d: %w", off, err)
		}
		osize := int64(binary.LittleEndian.Uint64(oh[16:]))
		if osize < objectHeaderSize || osize > size-off {
			return nil // trailing garbage: ignore, the packets are what matter
		}
		id := GUID(oh[:16])
		if (id == SimpleIndexObjectID && f.SimpleIndex == nil) || (id == IndexObjectID && f.Index == nil) {
			if osize > 64<<20 {
				return fmt.Errorf("asf: %s of %d bytes", objectName(id), osize)
			}
			body := make([]byte, osize-objectHeaderSize)
			if _, err := f.r.ReadAt(body, off+objectHeaderSize); err != nil {
				return fmt.Errorf("asf: reading %s: %w", objectName(id), err)
			}
			var err error
			if id == SimpleIndexObjectID {
				f.SimpleIndex, err = ParseSimpleIndex(body)
			} else {
				f.Index, err = ParseIndex(body)
			}
			if err != nil {
				return err
			}
		}
		off += osize
	}
	return nil
}

// ReadPacket reads packet n (0-based) into buf, which is grown to
// PacketSize when too small, and returns the full-size packet.
func (f *File) ReadPacket(n uint64, buf []byte) ([]byte, error) {
	if n >= f.PacketCount {
		return nil, fmt.Errorf("asf: packet %d of %d: %w", n, f.PacketCount, io.EOF)
	}
	if cap(buf) < f.PacketSize {
		buf = make([]byte, f.PacketSize)
	}
	buf = buf[:f.PacketSize]
	if _, err := f.r.ReadAt(buf, f.DataOffset+int64(n)*int64(f.PacketSize)); err != nil {
		return nil, fmt.Errorf("asf: reading packet %d: %w", n, err)
	}
	return buf, nil
}

// AppendDataObjectHeader appends the 50 bytes of a Data Object (5.1) that
// precede its packets: for a file, the size of packets data packets of
// packetSize bytes; for live content (Broadcast), an Object Size of 0
// (unknown) and a Total Data Packets of 0 (invalid when broadcast).
func AppendDataObjectHeader(dst []byte, fileID GUID, packets uint64, packetSize int, live bool) []byte {
	size := uint64(DataObjectHeaderSize) + packets*uint64(packetSize)
	if live {
		size, packets = 0, 0
	}
	dst = append(dst, DataObjectID[:]...)
	dst = putU64(dst, size)
	dst = append(dst, fileID[:]...)
	dst = putU64(dst, packets)
	return append(dst, 1, 1) // Reserved: 0x0101
}
