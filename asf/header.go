package asf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// objectHeaderSize is the size of the Object ID and Object Size fields that
// start every ASF object (ASF spec 2.1).
const objectHeaderSize = 24

// headerObjectFixedSize is the Header Object's own fields: object header,
// Number of Header Objects, Reserved1 and Reserved2 (3.1).
const headerObjectFixedSize = 30

// DataObjectHeaderSize is the size of the Data Object's fields before the
// first data packet (5.1).
const DataObjectHeaderSize = 50

// MaxHeaderSize bounds the Header Object accepted from the network.
const MaxHeaderSize = 16 << 20

// MaxPacketSize bounds the data packet size accepted from a header.
const MaxPacketSize = 1 << 20

// ErrNotHeader reports bytes that do not start with a Header Object.
var ErrNotHeader = errors.New("asf: not an ASF Header Object")

// Object is one ASF object kept exactly as read.
type Object struct {
	ID  GUID
	Raw []byte // the whole object, including its 24-byte Object ID and Object Size
}

// Data returns the object's bytes after its Object ID and Object Size.
func (o Object) Data() []byte { return o.Raw[objectHeaderSize:] }

// Header is a parsed ASF Header Object (3.1). Typed fields are views of the
// objects in Objects; objects the package does not interpret are kept as
// they are, so Marshal gives back Raw when nothing was changed.
type Header struct {
	Raw       []byte   // the Header Object bytes exactly as parsed
	Reserved1 uint8    // 0x01
	Reserved2 uint8    // 0x02
	Objects   []Object // the children in file order

	FileProperties     FileProperties
	Streams            []*StreamProperties // in header order; the ones only embedded in Extended Stream Properties follow
	Extension          *HeaderExtension
	Codecs             []Codec
	ScriptCommands     *ScriptCommands
	Markers            *Markers
	ErrorCorrection    *ErrorCorrection
	ContentDescription *ContentDescription
	// ExtendedContentDescription holds name/value descriptors (3.11), e.g. WM/AlbumTitle.
	ExtendedContentDescription []Descriptor
	StreamBitrates             []StreamBitrate // Stream Bitrate Properties (3.12)
	// MutualExclusions holds the Bitrate Mutual Exclusion object (3.8) and every
	// Advanced Mutual Exclusion object (4.2) in that order.
	MutualExclusions      []MutualExclusion
	GroupMutualExclusions []GroupMutualExclusion
	StreamPriorities      []StreamPriority
	BandwidthSharing      []BandwidthSharing
	Languages             []string // Language List (4.6), indexed by the Language ID Index fields
	Metadata              []MetadataRecord
	MetadataLibrary       []MetadataRecord
	IndexParameters       *IndexParameters
	Compatibility         *Compatibility
	// Encrypted is set when Content Encryption, Extended Content Encryption or
	// Advanced Content Encryption is present, or a stream has its Encrypted
	// Content Flag: the content is DRM-protected and cannot be decoded here.
	Encrypted bool

	declaredCount uint32 // Number of Header Objects as read
	parsedCount   int    // objects found
}

// PacketSize returns the fixed data packet size of File Properties (3.2:
// Minimum and Maximum Data Packet Size are equal).
func (h *Header) PacketSize() int { return int(h.FileProperties.MaxDataPacketSize) }

// Stream returns the properties of stream n, or nil.
func (h *Header) Stream(n uint16) *StreamProperties {
	for _, s := range h.Streams {
		if s.StreamNumber == n {
			return s
		}
	}
	return nil
}

// ParseHeader parses a Header Object. b must start with the Header Object;
// bytes after it (such as the 50-byte Data Object header that MMS servers
// send along) are ignored. Typed fields and Objects alias b.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) < headerObjectFixedSize {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrTruncated, len(b))
	}
	var id GUID
	copy(id[:], b)
	if id != HeaderObjectID {
		return nil, fmt.Errorf("%w: object ID %s", ErrNotHeader, id)
	}
	size := binary.LittleEndian.Uint64(b[16:])
	if size < headerObjectFixedSize || size > MaxHeaderSize {
		return nil, fmt.Errorf("asf: Header Object size %d out of range", size)
	}
	if size > uint64(len(b)) {
		return nil, fmt.Errorf("%w: Header Object of %d bytes, have %d", ErrTruncated, size, len(b))
	}
	h := &Header{Raw: b[:size:size]}
	count := binary.LittleEndian.Uint32(b[24:])
	h.Reserved1, h.Reserved2 = b[28], b[29]
	objs, err := splitObjects(h.Raw[headerObjectFixedSize:])
	if err != nil {
		return nil, fmt.Errorf("asf: Header Object: %w", err)
	}
	// Number of Header Objects is not checked against the objects found:
	// the bytes decide. Marshal writes it back as it was.
	h.declaredCount, h.parsedCount = count, len(objs)
	h.Objects = objs
	haveFP := false
	for _, o := range objs {
		if err := h.parseChild(o); err != nil {
			return nil, fmt.Errorf("asf: %s: %w", objectName(o.ID), err)
		}
		if o.ID == FilePropertiesObjectID {
			haveFP = true
		}
	}
	if !haveFP {
		return nil, errors.New("asf: Header Object has no File Properties Object")
	}
	if len(h.Streams) == 0 {
		return nil, errors.New("asf: Header Object has no Stream Properties Object")
	}
	fp := &h.FileProperties
	if fp.MaxDataPacketSize == 0 || fp.MaxDataPacketSize > MaxPacketSize {
		return nil, fmt.Errorf("asf: data packet size %d out of range", fp.MaxDataPacketSize)
	}
	if fp.MinDataPacketSize != fp.MaxDataPacketSize {
		return nil, fmt.Errorf("asf: variable data packet size %d..%d not supported",
			fp.MinDataPacketSize, fp.MaxDataPacketSize)
	}
	h.link()
	return h, nil
}

// splitObjects cuts b into consecutive objects.
func splitObjects(b []byte) ([]Object, error) {
	var objs []Object
	for off := 0; off < len(b); {
		if len(b)-off < objectHeaderSize {
			return nil, fmt.Errorf("%w: object header at offset %d", ErrTruncated, off)
		}
		var o Object
		copy(o.ID[:], b[off:])
		size := binary.LittleEndian.Uint64(b[off+16:])
		if size < objectHeaderSize || size > uint64(len(b)-off) {
			return nil, fmt.Errorf("%w: %s of size %d at offset %d, %d bytes left",
				ErrTruncated, objectName(o.ID), size, off, len(b)-off)
		}
		o.Raw = b[off : off+int(size) : off+int(size)]
		objs = append(objs, o)
		off += int(size)
	}
	return objs, nil
}

func (h *Header) parseChild(o Object) error {
	c := &cursor{b: o.Data()}
	switch o.ID {
	case FilePropertiesObjectID:
		h.FileProperties = parseFileProperties(c)
	case StreamPropertiesObjectID:
		s := parseStreamProperties(c)
		if c.err == nil {
			if h.Stream(s.StreamNumber) != nil {
				return fmt.Errorf("duplicate stream %d", s.StreamNumber)
			}
			h.Streams = append(h.Streams, s)
		}
	case HeaderExtensionObjectID:
		ext, err := parseHeaderExtension(c)
		if err != nil {
			return err
		}
		h.Extension = ext
		for _, eo := range ext.Objects {
			if err := h.parseExtensionChild(eo); err != nil {
				return fmt.Errorf("%s: %w", objectName(eo.ID), err)
			}
		}
	case CodecListObjectID:
		h.Codecs = parseCodecList(c)
	case ScriptCommandObjectID:
		h.ScriptCommands = parseScriptCommands(c)
	case MarkerObjectID:
		h.Markers = parseMarkers(c)
	case BitrateMutualExclusionObjectID:
		// first, before any Advanced Mutual Exclusion, wherever it sits
		h.MutualExclusions = append([]MutualExclusion{parseMutualExclusion(c)}, h.MutualExclusions...)
	case ErrorCorrectionObjectID:
		e := &ErrorCorrection{Type: c.guid()}
		e.Data = c.bytes(int(c.u32()))
		h.ErrorCorrection = e
	case ContentDescriptionObjectID:
		h.ContentDescription = parseContentDescription(c)
	case ExtendedContentDescriptionObjectID:
		h.ExtendedContentDescription = parseExtendedContentDescription(c)
	case StreamBitratePropertiesObjectID:
		n := int(c.u16())
		for i := 0; i < n && c.err == nil; i++ {
			flags := c.u16()
			h.StreamBitrates = append(h.StreamBitrates, StreamBitrate{
				StreamNumber: flags & 0x7f, AverageBitrate: c.u32()})
		}
	case ContentEncryptionObjectID, ExtendedContentEncryptionObjectID:
		h.Encrypted = true
	}
	return c.err
}

func (h *Header) parseExtensionChild(o Object) error {
	c := &cursor{b: o.Data()}
	switch o.ID {
	case ExtendedStreamPropertiesObjectID:
		e, err := parseExtendedStreamProperties(c)
		if err != nil {
			return err
		}
		h.Extension.StreamProperties = append(h.Extension.StreamProperties, e)
	case AdvancedMutualExclusionObjectID:
		h.MutualExclusions = append(h.MutualExclusions, parseMutualExclusion(c))
	case GroupMutualExclusionObjectID:
		g := GroupMutualExclusion{Type: c.guid()}
		n := int(c.u16())
		for i := 0; i < n && c.err == nil; i++ {
			g.Records = append(g.Records, readStreamList(c))
		}
		h.GroupMutualExclusions = append(h.GroupMutualExclusions, g)
	case StreamPrioritizationObjectID:
		n := int(c.u16())
		for i := 0; i < n && c.err == nil; i++ {
			num := c.u16()
			flags := c.u16()
			h.StreamPriorities = append(h.StreamPriorities, StreamPriority{StreamNumber: num, Mandatory: flags&1 != 0})
		}
	case BandwidthSharingObjectID:
		bs := BandwidthSharing{Type: c.guid(), DataBitrate: c.u32(), BufferSize: c.u32()}
		bs.Streams = readStreamList(c)
		h.BandwidthSharing = append(h.BandwidthSharing, bs)
	case LanguageListObjectID:
		n := int(c.u16())
		for i := 0; i < n && c.err == nil; i++ {
			h.Languages = append(h.Languages, c.utf16(int(c.u8())))
		}
	case MetadataObjectID:
		h.Metadata = parseMetadata(c, false)
	case MetadataLibraryObjectID:
		h.MetadataLibrary = parseMetadata(c, true)
	case IndexParametersObjectID:
		ip := &IndexParameters{EntryTimeInterval: c.u32()}
		n := int(c.u16())
		for i := 0; i < n && c.err == nil; i++ {
			ip.Specifiers = append(ip.Specifiers, IndexSpecifier{StreamNumber: c.u16(), IndexType: c.u16()})
		}
		h.IndexParameters = ip
	case CompatibilityObjectID:
		h.Compatibility = &Compatibility{Profile: c.u8(), Mode: c.u8()}
	case AdvancedContentEncryptionObjectID:
		h.Encrypted = true
	}
	return c.err
}

// link joins what several objects say about a stream: bitrates, languages,
// extended properties and the streams only declared inside Extended Stream
// Properties.
func (h *Header) link() {
	if h.Extension != nil {
		for _, e := range h.Extension.StreamProperties {
			s := h.Stream(e.StreamNumber)
			if s == nil && e.StreamProperties != nil && e.StreamProperties.StreamNumber == e.StreamNumber {
				s = e.StreamProperties
				h.Streams = append(h.Streams, s)
			}
			if s == nil {
				continue
			}
			s.Extended = e
			if s.Bitrate == 0 {
				s.Bitrate = e.DataBitrate
			}
			if int(e.LanguageIDIndex) < len(h.Languages) {
				s.Language = h.Languages[e.LanguageIDIndex]
			}
		}
	}
	for _, sb := range h.StreamBitrates {
		if s := h.Stream(sb.StreamNumber); s != nil {
			s.Bitrate = sb.AverageBitrate
		}
	}
	for _, s := range h.Streams {
		if s.Encrypted {
			h.Encrypted = true
		}
	}
}

// Marshal returns the Header Object: the children in Objects in order, File
// Properties re-encoded from FileProperties (so that changes to it, e.g. the
// Broadcast flag, take effect) and every other object as it is in Objects.
// Other typed fields are views only: change an object by replacing its
// entry in Objects. When nothing was changed the result equals Raw byte for
// byte.
func (h *Header) Marshal() []byte {
	size := headerObjectFixedSize
	for _, o := range h.Objects {
		size += len(o.Raw)
	}
	b := make([]byte, 0, size)
	b = append(b, HeaderObjectID[:]...)
	b = putU64(b, uint64(size))
	count := uint32(len(h.Objects))
	if len(h.Objects) == h.parsedCount && h.Raw != nil {
		count = h.declaredCount
	}
	b = putU32(b, count)
	b = append(b, h.Reserved1, h.Reserved2)
	for _, o := range h.Objects {
		if o.ID == FilePropertiesObjectID && len(o.Raw) == objectHeaderSize+filePropertiesSize {
			b = h.FileProperties.appendObject(b)
			continue
		}
		b = append(b, o.Raw...)
	}
	return b
}

// HeaderExtension is the Header Extension Object (3.4).
type HeaderExtension struct {
	Reserved1 GUID
	Reserved2 uint16
	Objects   []Object // children in order, kept as read
	// StreamProperties are the Extended Stream Properties objects (4.1).
	StreamProperties []*ExtendedStreamProperties
}

func parseHeaderExtension(c *cursor) (*HeaderExtension, error) {
	e := &HeaderExtension{Reserved1: c.guid(), Reserved2: c.u16()}
	n := c.u32()
	if c.err != nil {
		return nil, c.err
	}
	if uint64(n) > uint64(len(c.b)-c.off) {
		return nil, fmt.Errorf("%w: Header Extension Data Size %d, %d bytes left", ErrTruncated, n, len(c.b)-c.off)
	}
	objs, err := splitObjects(c.bytes(int(n)))
	if err != nil {
		return nil, err
	}
	e.Objects = objs
	return e, nil
}

// ErrorCorrection is the Error Correction Object (3.9).
type ErrorCorrection struct {
	Type GUID
	Data []byte
}

func objectName(id GUID) string {
	for _, n := range objectNames {
		if *n.id == id {
			return n.name
		}
	}
	return "object " + id.String()
}

var objectNames = []struct {
	id   *GUID
	name string
}{
	{&HeaderObjectID, "Header Object"},
	{&DataObjectID, "Data Object"},
	{&SimpleIndexObjectID, "Simple Index Object"},
	{&IndexObjectID, "Index Object"},
	{&FilePropertiesObjectID, "File Properties Object"},
	{&StreamPropertiesObjectID, "Stream Properties Object"},
	{&HeaderExtensionObjectID, "Header Extension Object"},
	{&CodecListObjectID, "Codec List Object"},
	{&ScriptCommandObjectID, "Script Command Object"},
	{&MarkerObjectID, "Marker Object"},
	{&BitrateMutualExclusionObjectID, "Bitrate Mutual Exclusion Object"},
	{&ErrorCorrectionObjectID, "Error Correction Object"},
	{&ContentDescriptionObjectID, "Content Description Object"},
	{&ExtendedContentDescriptionObjectID, "Extended Content Description Object"},
	{&StreamBitratePropertiesObjectID, "Stream Bitrate Properties Object"},
	{&ContentEncryptionObjectID, "Content Encryption Object"},
	{&ExtendedContentEncryptionObjectID, "Extended Content Encryption Object"},
	{&PaddingObjectID, "Padding Object"},
	{&ExtendedStreamPropertiesObjectID, "Extended Stream Properties Object"},
	{&AdvancedMutualExclusionObjectID, "Advanced Mutual Exclusion Object"},
	{&GroupMutualExclusionObjectID, "Group Mutual Exclusion Object"},
	{&StreamPrioritizationObjectID, "Stream Prioritization Object"},
	{&BandwidthSharingObjectID, "Bandwidth Sharing Object"},
	{&LanguageListObjectID, "Language List Object"},
	{&MetadataObjectID, "Metadata Object"},
	{&MetadataLibraryObjectID, "Metadata Library Object"},
	{&IndexParametersObjectID, "Index Parameters Object"},
	{&CompatibilityObjectID, "Compatibility Object"},
}
