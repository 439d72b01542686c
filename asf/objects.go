package asf

import (
	"fmt"
	"time"
)

// filePropertiesSize is the size of File Properties after the object header.
const filePropertiesSize = 80

// FileProperties is the File Properties Object (3.2).
type FileProperties struct {
	FileID            GUID
	FileSize          uint64
	CreationDate      uint64 // 100-ns units since 1601-01-01
	DataPacketsCount  uint64 // invalid when Broadcast
	PlayDuration      uint64 // 100-ns units, includes Preroll
	SendDuration      uint64 // 100-ns units
	Preroll           uint64 // milliseconds to buffer; presentation times are offset by it
	Flags             uint32
	Broadcast         bool // Flags bit 0
	Seekable          bool // Flags bit 1
	MinDataPacketSize uint32
	MaxDataPacketSize uint32
	MaxBitrate        uint32 // bits per second
}

// Duration returns the play duration without the preroll.
func (fp *FileProperties) Duration() time.Duration {
	d := time.Duration(fp.PlayDuration)*100 - time.Duration(fp.Preroll)*time.Millisecond
	if d < 0 {
		return 0
	}
	return d
}

func parseFileProperties(c *cursor) FileProperties {
	fp := FileProperties{
		FileID: c.guid(), FileSize: c.u64(), CreationDate: c.u64(), DataPacketsCount: c.u64(),
		PlayDuration: c.u64(), SendDuration: c.u64(), Preroll: c.u64(), Flags: c.u32(),
		MinDataPacketSize: c.u32(), MaxDataPacketSize: c.u32(), MaxBitrate: c.u32(),
	}
	fp.Broadcast = fp.Flags&1 != 0
	fp.Seekable = fp.Flags&2 != 0
	return fp
}

func (fp *FileProperties) appendObject(b []byte) []byte {
	b = append(b, FilePropertiesObjectID[:]...)
	b = putU64(b, objectHeaderSize+filePropertiesSize)
	b = append(b, fp.FileID[:]...)
	b = putU64(b, fp.FileSize)
	b = putU64(b, fp.CreationDate)
	b = putU64(b, fp.DataPacketsCount)
	b = putU64(b, fp.PlayDuration)
	b = putU64(b, fp.SendDuration)
	b = putU64(b, fp.Preroll)
	flags := fp.Flags &^ 3
	if fp.Broadcast {
		flags |= 1
	}
	if fp.Seekable {
		flags |= 2
	}
	b = putU32(b, flags)
	b = putU32(b, fp.MinDataPacketSize)
	b = putU32(b, fp.MaxDataPacketSize)
	return putU32(b, fp.MaxBitrate)
}

// StreamProperties is a Stream Properties Object (3.3), joined with what
// other objects say about the stream.
type StreamProperties struct {
	StreamNumber        uint16 // 1..127
	Type                GUID   // StreamTypeAudio, StreamTypeVideo, ...
	ErrorCorrectionType GUID   // NoErrorCorrection or AudioSpread
	TimeOffset          uint64 // 100-ns units
	Flags               uint16
	Encrypted           bool   // Encrypted Content Flag
	Reserved            uint32 // the 4 reserved bytes
	TypeSpecificData    []byte
	ErrorCorrectionData []byte

	Audio  *WaveFormatEx     // when Type is StreamTypeAudio
	Video  *BitmapInfoHeader // when Type is StreamTypeVideo
	Spread *AudioSpreadInfo  // when ErrorCorrectionType is AudioSpread

	// Bitrate in bits/s, from Stream Bitrate Properties, else the Data Bitrate
	// of Extended Stream Properties.
	Bitrate  uint32
	Language string                    // from Extended Stream Properties and the Language List
	Extended *ExtendedStreamProperties // nil when absent
}

// IsAudio and IsVideo report the stream type.
func (s *StreamProperties) IsAudio() bool { return s.Type == StreamTypeAudio }

// IsVideo reports whether the stream is a video stream.
func (s *StreamProperties) IsVideo() bool { return s.Type == StreamTypeVideo }

func parseStreamProperties(c *cursor) *StreamProperties {
	s := &StreamProperties{Type: c.guid(), ErrorCorrectionType: c.guid(), TimeOffset: c.u64()}
	tsLen, ecLen := c.u32(), c.u32()
	s.Flags = c.u16()
	s.StreamNumber = s.Flags & 0x7f
	s.Encrypted = s.Flags&0x8000 != 0
	s.Reserved = c.u32()
	s.TypeSpecificData = c.bytes(int(min(tsLen, 1<<30)))
	s.ErrorCorrectionData = c.bytes(int(min(ecLen, 1<<30)))
	if c.err != nil {
		return s
	}
	if s.StreamNumber == 0 {
		c.err = fmt.Errorf("stream number 0")
		return s
	}
	switch s.Type {
	case StreamTypeAudio:
		s.Audio, c.err = parseWaveFormatEx(s.TypeSpecificData)
	case StreamTypeVideo:
		s.Video, c.err = parseVideoMedia(s.TypeSpecificData)
	}
	if c.err == nil && s.ErrorCorrectionType == AudioSpread {
		s.Spread, c.err = parseAudioSpread(s.ErrorCorrectionData)
	}
	return s
}

// WaveFormatEx is the audio type-specific data (3.3, 9.1: WAVEFORMATEX).
type WaveFormatEx struct {
	FormatTag      uint16 // 0x0161 WMA2, 0x0160 WMA1, 0x0055 MP3, 0x00FF AAC, ...
	Channels       uint16
	SamplesPerSec  uint32
	AvgBytesPerSec uint32
	BlockAlign     uint16
	BitsPerSample  uint16
	CodecData      []byte // the cbSize bytes that follow
}

// CodecName names the common format tags as Windows Media logs them
// ("Windows Media Audio 2"); others as their hexadecimal tag.
func (w *WaveFormatEx) CodecName() string {
	switch w.FormatTag {
	case 0x0160:
		return "Windows Media Audio 1"
	case 0x0161:
		return "Windows Media Audio 2"
	case 0x0162:
		return "Windows Media Audio 9 Professional"
	case 0x0163:
		return "Windows Media Audio 9 Lossless"
	case 0x0055:
		return "MPEG Layer-3"
	case 0x00FF, 0x1610:
		return "AAC"
	case 0x0001:
		return "PCM"
	}
	return fmt.Sprintf("0x%04X", w.FormatTag)
}

func parseWaveFormatEx(b []byte) (*WaveFormatEx, error) {
	c := &cursor{b: b}
	w := &WaveFormatEx{FormatTag: c.u16(), Channels: c.u16(), SamplesPerSec: c.u32(),
		AvgBytesPerSec: c.u32(), BlockAlign: c.u16(), BitsPerSample: c.u16()}
	if c.err != nil {
		return nil, fmt.Errorf("WAVEFORMATEX: %w", c.err)
	}
	if len(b) >= 18 {
		n := int(c.u16())
		w.CodecData = c.bytes(min(n, len(b)-18))
	}
	return w, nil
}

// Marshal encodes the WAVEFORMATEX with cbSize = len(CodecData).
func (w *WaveFormatEx) Marshal() []byte {
	b := make([]byte, 0, 18+len(w.CodecData))
	b = putU16(b, w.FormatTag)
	b = putU16(b, w.Channels)
	b = putU32(b, w.SamplesPerSec)
	b = putU32(b, w.AvgBytesPerSec)
	b = putU16(b, w.BlockAlign)
	b = putU16(b, w.BitsPerSample)
	b = putU16(b, uint16(len(w.CodecData)))
	return append(b, w.CodecData...)
}

// BitmapInfoHeader is the video type-specific data (9.2): the encoded image
// size followed by a BITMAPINFOHEADER and codec data.
type BitmapInfoHeader struct {
	EncodedWidth, EncodedHeight uint32
	ReservedFlags               uint8
	Width, Height               int32
	Planes, BitCount            uint16
	Compression                 FourCC // e.g. "WMV2", "MP43", "H264"
	ImageSize                   uint32
	XPelsPerMeter               int32
	YPelsPerMeter               int32
	ColorsUsed, ColorsImportant uint32
	CodecData                   []byte
}

// FourCC is a four-character code, least significant byte first.
type FourCC uint32

// String returns the four characters.
func (f FourCC) String() string {
	return string([]byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)})
}

// MakeFourCC builds a FourCC from a 4-character string.
func MakeFourCC(s string) FourCC {
	var b [4]byte
	copy(b[:], s)
	return FourCC(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

func parseVideoMedia(b []byte) (*BitmapInfoHeader, error) {
	c := &cursor{b: b}
	v := &BitmapInfoHeader{EncodedWidth: c.u32(), EncodedHeight: c.u32(), ReservedFlags: c.u8()}
	fdSize := int(c.u16())
	start := c.off
	biSize := c.u32()
	v.Width, v.Height = int32(c.u32()), int32(c.u32())
	v.Planes, v.BitCount = c.u16(), c.u16()
	v.Compression = FourCC(c.u32())
	v.ImageSize = c.u32()
	v.XPelsPerMeter, v.YPelsPerMeter = int32(c.u32()), int32(c.u32())
	v.ColorsUsed, v.ColorsImportant = c.u32(), c.u32()
	if c.err != nil {
		return nil, fmt.Errorf("BITMAPINFOHEADER: %w", c.err)
	}
	// The codec data follows the 40-byte BITMAPINFOHEADER and runs to the end
	// of the Format Data (ASF 9.2: Format Data Size counts it). biSize is not a
	// reliable start: FFmpeg and Microsoft's tools write biSize = 40 + codec
	// data length, so using it as the offset would lose the codec data.
	_ = biSize
	end := start + fdSize
	if end > len(b) {
		end = len(b)
	}
	if start+40 < end {
		v.CodecData = b[start+40 : end : end]
	}
	return v, nil
}

// Marshal encodes the video type-specific data.
func (v *BitmapInfoHeader) Marshal() []byte {
	b := make([]byte, 0, 51+len(v.CodecData))
	b = putU32(b, v.EncodedWidth)
	b = putU32(b, v.EncodedHeight)
	b = append(b, v.ReservedFlags)
	b = putU16(b, uint16(40+len(v.CodecData)))
	b = putU32(b, uint32(40+len(v.CodecData)))
	b = putU32(b, uint32(v.Width))
	b = putU32(b, uint32(v.Height))
	b = putU16(b, v.Planes)
	b = putU16(b, v.BitCount)
	b = putU32(b, uint32(v.Compression))
	b = putU32(b, v.ImageSize)
	b = putU32(b, uint32(v.XPelsPerMeter))
	b = putU32(b, uint32(v.YPelsPerMeter))
	b = putU32(b, v.ColorsUsed)
	b = putU32(b, v.ColorsImportant)
	return append(b, v.CodecData...)
}

// AudioSpreadInfo is the error correction data of an audio stream using
// audio spread (3.3, 9.1.1): media objects are scrambled in chunks.
type AudioSpreadInfo struct {
	Span                uint8
	VirtualPacketLength uint16
	VirtualChunkLength  uint16
	SilenceData         []byte
}

func parseAudioSpread(b []byte) (*AudioSpreadInfo, error) {
	c := &cursor{b: b}
	a := &AudioSpreadInfo{Span: c.u8(), VirtualPacketLength: c.u16(), VirtualChunkLength: c.u16()}
	a.SilenceData = c.bytes(int(c.u16()))
	if c.err != nil {
		return nil, fmt.Errorf("audio spread data: %w", c.err)
	}
	return a, nil
}

// ExtendedStreamProperties is the Extended Stream Properties Object (4.1).
type ExtendedStreamProperties struct {
	StartTime, EndTime                                                uint64 // ms
	DataBitrate, BufferSize, InitialBufferFullness                    uint32
	AlternateDataBitrate, AlternateBufferSize, AlternateInitialBuffer uint32
	MaxObjectSize                                                     uint32
	Flags                                                             uint32
	StreamNumber                                                      uint16
	LanguageIDIndex                                                   uint16
	AvgTimePerFrame                                                   uint64 // 100-ns units
	StreamNames                                                       []StreamName
	PayloadExtensionSystems                                           []PayloadExtensionSystem
	// StreamProperties is the Stream Properties Object embedded at the end,
	// used for streams that are hidden from old readers; nil when absent.
	StreamProperties *StreamProperties
}

// StreamName is one Stream Name entry of Extended Stream Properties.
type StreamName struct {
	LanguageIDIndex uint16
	Name            string
}

// PayloadExtensionSystem describes extension data that each payload of the
// stream carries in its replicated data after the first 8 bytes (4.1).
type PayloadExtensionSystem struct {
	ID       GUID
	DataSize uint16 // 0xFFFF: variable, with a WORD length in each payload
	Info     []byte
}

func parseExtendedStreamProperties(c *cursor) (*ExtendedStreamProperties, error) {
	e := &ExtendedStreamProperties{StartTime: c.u64(), EndTime: c.u64(), DataBitrate: c.u32(),
		BufferSize: c.u32(), InitialBufferFullness: c.u32(), AlternateDataBitrate: c.u32(),
		AlternateBufferSize: c.u32(), AlternateInitialBuffer: c.u32(), MaxObjectSize: c.u32(),
		Flags: c.u32(), StreamNumber: c.u16(), LanguageIDIndex: c.u16(), AvgTimePerFrame: c.u64()}
	names, systems := int(c.u16()), int(c.u16())
	for i := 0; i < names && c.err == nil; i++ {
		n := StreamName{LanguageIDIndex: c.u16()}
		n.Name = c.utf16(int(c.u16()))
		e.StreamNames = append(e.StreamNames, n)
	}
	for i := 0; i < systems && c.err == nil; i++ {
		p := PayloadExtensionSystem{ID: c.guid(), DataSize: c.u16()}
		p.Info = c.bytes(int(min(c.u32(), 1<<30)))
		e.PayloadExtensionSystems = append(e.PayloadExtensionSystems, p)
	}
	if c.err != nil {
		return nil, c.err
	}
	if rest := c.rest(); len(rest) > 0 {
		objs, err := splitObjects(rest)
		if err != nil {
			return nil, fmt.Errorf("embedded object: %w", err)
		}
		for _, o := range objs {
			if o.ID == StreamPropertiesObjectID {
				sc := &cursor{b: o.Data()}
				sp := parseStreamProperties(sc)
				if sc.err != nil {
					return nil, fmt.Errorf("embedded Stream Properties: %w", sc.err)
				}
				e.StreamProperties = sp
			}
		}
	}
	return e, nil
}

// Codec is one entry of the Codec List Object (3.5).
type Codec struct {
	Type        uint16 // 1 video, 2 audio, 0xFFFF unknown
	Name        string
	Description string
	Info        []byte
}

func parseCodecList(c *cursor) []Codec {
	c.guid()
	n := int(c.u32())
	var out []Codec
	for i := 0; i < n && c.err == nil; i++ {
		cd := Codec{Type: c.u16()}
		cd.Name = c.utf16(2 * int(c.u16()))
		cd.Description = c.utf16(2 * int(c.u16()))
		cd.Info = c.bytes(int(c.u16()))
		out = append(out, cd)
	}
	return out
}

// ScriptCommands is the Script Command Object (3.6).
type ScriptCommands struct {
	Types    []string
	Commands []ScriptCommand
}

// ScriptCommand is one command: Type indexes ScriptCommands.Types.
type ScriptCommand struct {
	PresentationTime uint32 // ms
	TypeIndex        uint16
	Name             string
}

func parseScriptCommands(c *cursor) *ScriptCommands {
	c.guid()
	nCmd, nTypes := int(c.u16()), int(c.u16())
	s := &ScriptCommands{}
	for i := 0; i < nTypes && c.err == nil; i++ {
		s.Types = append(s.Types, c.utf16(2*int(c.u16())))
	}
	for i := 0; i < nCmd && c.err == nil; i++ {
		sc := ScriptCommand{PresentationTime: c.u32(), TypeIndex: c.u16()}
		sc.Name = c.utf16(2 * int(c.u16()))
		s.Commands = append(s.Commands, sc)
	}
	return s
}

// Markers is the Marker Object (3.7).
type Markers struct {
	Name    string
	Entries []Marker
}

// Marker is one named position.
type Marker struct {
	Offset           uint64 // byte offset into the Data Object's packets
	PresentationTime uint64 // 100-ns units
	SendTime         uint32 // ms
	Flags            uint32
	Description      string
}

func parseMarkers(c *cursor) *Markers {
	c.guid()
	n := int(c.u32())
	c.u16()
	m := &Markers{Name: c.utf16(int(c.u16()))}
	for i := 0; i < n && c.err == nil; i++ {
		e := Marker{Offset: c.u64(), PresentationTime: c.u64()}
		c.u16()
		e.SendTime, e.Flags = c.u32(), c.u32()
		e.Description = c.utf16(2 * int(min(c.u32(), 1<<29)))
		m.Entries = append(m.Entries, e)
	}
	return m
}

// MutualExclusion is a Bitrate Mutual Exclusion Object (3.8) or an Advanced
// Mutual Exclusion Object (4.2): a player picks one of Streams.
type MutualExclusion struct {
	Type    GUID // MutexBitrate, MutexLanguage or MutexUnknown
	Streams []uint16
}

func parseMutualExclusion(c *cursor) MutualExclusion {
	m := MutualExclusion{Type: c.guid()}
	m.Streams = readStreamList(c)
	return m
}

func readStreamList(c *cursor) []uint16 {
	n := int(c.u16())
	if !c.need(2 * n) {
		return nil
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = c.u16()
	}
	return out
}

// GroupMutualExclusion is a Group Mutual Exclusion Object (4.3).
type GroupMutualExclusion struct {
	Type    GUID
	Records [][]uint16
}

// StreamPriority is one record of the Stream Prioritization Object (4.4).
type StreamPriority struct {
	StreamNumber uint16
	Mandatory    bool
}

// BandwidthSharing is a Bandwidth Sharing Object (4.5).
type BandwidthSharing struct {
	Type        GUID
	DataBitrate uint32
	BufferSize  uint32
	Streams     []uint16
}

// ContentDescription is the Content Description Object (3.10).
type ContentDescription struct {
	Title, Author, Copyright, Description, Rating string
}

func parseContentDescription(c *cursor) *ContentDescription {
	l := [5]int{int(c.u16()), int(c.u16()), int(c.u16()), int(c.u16()), int(c.u16())}
	return &ContentDescription{Title: c.utf16(l[0]), Author: c.utf16(l[1]),
		Copyright: c.utf16(l[2]), Description: c.utf16(l[3]), Rating: c.utf16(l[4])}
}

// Marshal encodes the Content Description Object.
func (cd *ContentDescription) Marshal() []byte {
	f := [][]byte{encodeUTF16(cd.Title), encodeUTF16(cd.Author), encodeUTF16(cd.Copyright),
		encodeUTF16(cd.Description), encodeUTF16(cd.Rating)}
	var body []byte
	for _, s := range f {
		body = putU16(body, uint16(len(s)))
	}
	for _, s := range f {
		body = append(body, s...)
	}
	return makeObject(ContentDescriptionObjectID, body)
}

// Data types of descriptor and metadata values (3.11, 4.7).
const (
	TypeUnicode = 0
	TypeBytes   = 1
	TypeBool    = 2
	TypeDWORD   = 3
	TypeQWORD   = 4
	TypeWORD    = 5
	TypeGUID    = 6
)

// Descriptor is one Extended Content Description entry (3.11).
type Descriptor struct {
	Name  string
	Type  uint16
	Value []byte // raw value; see String and Uint
}

// String returns a Unicode value as text, other types formatted.
func (d Descriptor) String() string { return valueString(d.Type, d.Value) }

func valueString(t uint16, v []byte) string {
	switch t {
	case TypeUnicode:
		return decodeUTF16(v)
	case TypeBytes:
		return fmt.Sprintf("%x", v)
	case TypeGUID:
		if len(v) == 16 {
			return GUID(v).String()
		}
	}
	c := &cursor{b: v}
	switch {
	case len(v) >= 8:
		return fmt.Sprint(c.u64())
	case len(v) >= 4:
		return fmt.Sprint(c.u32())
	case len(v) >= 2:
		return fmt.Sprint(c.u16())
	}
	return ""
}

func parseExtendedContentDescription(c *cursor) []Descriptor {
	n := int(c.u16())
	var out []Descriptor
	for i := 0; i < n && c.err == nil; i++ {
		d := Descriptor{Name: c.utf16(int(c.u16())), Type: c.u16()}
		d.Value = c.bytes(int(c.u16()))
		out = append(out, d)
	}
	return out
}

// MetadataRecord is one record of the Metadata (4.7) or Metadata Library
// (4.8) Object. LanguageIndex is 0 in the Metadata Object.
type MetadataRecord struct {
	LanguageIndex uint16
	StreamNumber  uint16
	Name          string
	Type          uint16
	Value         []byte
}

// String returns the value formatted as text.
func (m MetadataRecord) String() string { return valueString(m.Type, m.Value) }

func parseMetadata(c *cursor, library bool) []MetadataRecord {
	n := int(c.u16())
	var out []MetadataRecord
	for i := 0; i < n && c.err == nil; i++ {
		lang := c.u16()
		r := MetadataRecord{StreamNumber: c.u16()}
		if library {
			r.LanguageIndex = lang
		}
		nameLen := int(c.u16())
		r.Type = c.u16()
		dataLen := int(min(c.u32(), 1<<30))
		r.Name = c.utf16(nameLen)
		r.Value = c.bytes(dataLen)
		out = append(out, r)
	}
	return out
}

// StreamBitrate is one record of Stream Bitrate Properties (3.12).
type StreamBitrate struct {
	StreamNumber   uint16
	AverageBitrate uint32
}

// IndexParameters is the Index Parameters Object (4.9).
type IndexParameters struct {
	EntryTimeInterval uint32 // ms
	Specifiers        []IndexSpecifier
}

// IndexSpecifier names a stream indexed by the Index Object and the kind of
// index (1 nearest past data packet, 2 nearest past media object, 3 nearest
// past cleanpoint).
type IndexSpecifier struct {
	StreamNumber uint16
	IndexType    uint16
}

// Compatibility is the Compatibility Object (4.10).
type Compatibility struct {
	Profile, Mode uint8
}

func makeObject(id GUID, body []byte) []byte {
	b := make([]byte, 0, objectHeaderSize+len(body))
	b = append(b, id[:]...)
	b = putU64(b, uint64(objectHeaderSize+len(body)))
	return append(b, body...)
}

// PayloadExtensions walks the extension data that follows the Media Object
// Size and Presentation Time in a payload's replicated data, one piece per
// Payload Extension System of the stream, in order (4.1; systems with a
// Data Size of 0xFFFF carry a WORD length first).
func (e *ExtendedStreamProperties) PayloadExtensions(rep []byte, fn func(sys *PayloadExtensionSystem, data []byte)) error {
	if len(rep) < 8 {
		return fmt.Errorf("%w: replicated data of %d bytes", ErrPacket, len(rep))
	}
	c := &cursor{b: rep[8:]}
	for i := range e.PayloadExtensionSystems {
		sys := &e.PayloadExtensionSystems[i]
		n := int(sys.DataSize)
		if sys.DataSize == 0xffff {
			n = int(c.u16())
		}
		d := c.bytes(n)
		if c.err != nil {
			return fmt.Errorf("%w: payload extension %s: %w", ErrPacket, sys.ID, c.err)
		}
		fn(sys, d)
	}
	return nil
}
