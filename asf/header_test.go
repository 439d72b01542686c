package asf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
)

type probeStreamDetail struct {
	Index         int    `json:"index"`
	CodecType     string `json:"codec_type"`
	CodecTag      string `json:"codec_tag"`
	SampleRate    string `json:"sample_rate"`
	Channels      int    `json:"channels"`
	Width, Height int
	ExtradataSize int `json:"extradata_size"`
	Disposition   struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
}

// TestHeaderMatchesFFprobe compares typed stream properties with what
// FFmpeg reads from the same header.
func TestHeaderMatchesFFprobe(t *testing.T) {
	for _, path := range allFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, raw := openTestFile(t, path)
			h := f.Header
			var probe struct {
				Streams []probeStreamDetail `json:"streams"`
				Format  struct {
					Tags map[string]string `json:"tags"`
				} `json:"format"`
			}
			runJSON(t, &probe, "ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", path)
			var media []probeStreamDetail
			for _, s := range probe.Streams {
				if s.Disposition.AttachedPic == 0 {
					media = append(media, s)
				}
			}
			if len(media) != len(h.Streams) {
				t.Fatalf("%d streams, ffprobe %d", len(h.Streams), len(media))
			}
			for i, ps := range media {
				s := h.Streams[i]
				tag, _ := strconv.ParseUint(ps.CodecTag, 0, 32)
				switch ps.CodecType {
				case "audio":
					if s.Audio == nil || !s.IsAudio() {
						t.Fatalf("stream %d: not audio", s.StreamNumber)
					}
					if uint64(s.Audio.FormatTag) != tag || strconv.Itoa(int(s.Audio.SamplesPerSec)) != ps.SampleRate ||
						int(s.Audio.Channels) != ps.Channels {
						t.Errorf("stream %d: %+v, ffprobe %+v", s.StreamNumber, *s.Audio, ps)
					}
				case "video":
					if s.Video == nil || !s.IsVideo() {
						t.Fatalf("stream %d: not video", s.StreamNumber)
					}
					// The codec data (H.264 SPS/PPS, WMV sequence header) is what
					// FFmpeg hands its decoder as extradata.
					if len(s.Video.CodecData) != ps.ExtradataSize {
						t.Errorf("stream %d: %d bytes of codec data, ffprobe extradata %d", s.StreamNumber,
							len(s.Video.CodecData), ps.ExtradataSize)
					}
					if uint64(s.Video.Compression) != tag || int(s.Video.Width) != ps.Width || int(s.Video.Height) != ps.Height {
						t.Errorf("stream %d: %dx%d %s, ffprobe %+v", s.StreamNumber, s.Video.Width, s.Video.Height,
							s.Video.Compression, ps)
					}
				}
			}
			if title := probe.Format.Tags["title"]; title != "" {
				if h.ContentDescription == nil || h.ContentDescription.Title != title {
					t.Errorf("title: %+v, ffprobe %q", h.ContentDescription, title)
				}
			}
			if h.PacketSize() <= 0 || f.PacketCount != h.FileProperties.DataPacketsCount {
				t.Errorf("packet size %d, count %d, File Properties count %d", h.PacketSize(), f.PacketCount,
					h.FileProperties.DataPacketsCount)
			}
			if int64(len(raw)) != int64(h.FileProperties.FileSize) {
				t.Errorf("File Size %d, file has %d bytes", h.FileProperties.FileSize, len(raw))
			}
			if h.Encrypted {
				t.Error("reported as encrypted")
			}
		})
	}
}

// TestHeaderMicrosoftObjects checks objects that only Microsoft's tools
// write, with values read by hand from the files.
func TestHeaderMicrosoftObjects(t *testing.T) {
	open := func(name string) *Header {
		f, _ := openTestFile(t, filepath.Join("testdata", "media", name))
		return f.Header
	}
	glass := open("glass.wmv")
	if sc := glass.ScriptCommands; sc == nil || len(sc.Types) != 1 || sc.Types[0] != "URL" || len(sc.Commands) != 1 ||
		sc.Commands[0].Name != "http://www.microsoft.com/windowsmedia" || sc.Commands[0].PresentationTime != 9000 {
		t.Errorf("glass script commands: %+v", glass.ScriptCommands)
	}
	if len(glass.Codecs) != 2 || glass.Codecs[1].Name != "Windows Media Video V7" || glass.Codecs[1].Type != 1 {
		t.Errorf("glass codecs: %+v", glass.Codecs)
	}
	if s := glass.Stream(2); s == nil || s.Bitrate != 195798 || s.Video.Compression.String() != "WMV1" {
		t.Errorf("glass stream 2: %+v", s)
	}
	if s := glass.Stream(1); s == nil || s.Spread == nil || s.Spread.Span != 1 || s.Spread.VirtualPacketLength != 768 {
		t.Errorf("glass stream 1 audio spread: %+v", s)
	}
	if fp := glass.FileProperties; fp.Preroll != 3100 || !fp.Seekable || fp.Broadcast || fp.MaxDataPacketSize != 2877 {
		t.Errorf("glass file properties: %+v", fp)
	}
	jeanne := open("jeanne.wma")
	if m := jeanne.Markers; m == nil || len(m.Entries) != 3 || m.Entries[1].Description != "marker2" ||
		m.Entries[1].PresentationTime != 220000000 || m.Entries[1].Offset != 233792 {
		t.Errorf("jeanne markers: %+v", jeanne.Markers)
	}
	if jeanne.Compatibility == nil || jeanne.Compatibility.Profile != 2 {
		t.Errorf("jeanne compatibility: %+v", jeanne.Compatibility)
	}
	if s := jeanne.Stream(1); s == nil || s.Extended == nil || s.Extended.MaxObjectSize != 4459 || s.Bitrate != 96573 {
		t.Errorf("jeanne extended stream properties: %+v", s)
	}
	if cd := jeanne.ContentDescription; cd == nil || cd.Author != "Triode 48" || cd.Rating != "Windows Media Player SDK" {
		t.Errorf("jeanne content description: %+v", cd)
	}
	sire := open("Sire.wma")
	found := map[string]string{}
	for _, d := range sire.ExtendedContentDescription {
		found[d.Name] = d.String()
	}
	if found["WM/AlbumTitle"] != "Leap Forward" || found["WM/Year"] != "2007" {
		t.Errorf("Sire extended content description: %v", found)
	}
	if len(sire.MetadataLibrary) != 2 || sire.MetadataLibrary[0].Name != "WM/MediaClassPrimaryID" ||
		sire.MetadataLibrary[0].Type != TypeGUID {
		t.Errorf("Sire metadata library: %+v", sire.MetadataLibrary)
	}
	laure := open("laure_multi.wma")
	if len(laure.Languages) != 1 || laure.Languages[0] != "en-us" {
		t.Errorf("laure languages: %q", laure.Languages)
	}
	if s := laure.Streams[0]; s.Audio.FormatTag != 0x55 {
		t.Errorf("laure format tag %#x", s.Audio.FormatTag)
	}
}

// TestHeaderRoundTrip: Marshal gives back the bytes read; a change to File
// Properties survives a round trip and leaves every other object alone.
func TestHeaderRoundTrip(t *testing.T) {
	for _, path := range allFiles(t) {
		f, _ := openTestFile(t, path)
		h := f.Header
		if !bytes.Equal(h.Marshal(), h.Raw) || !bytes.Equal(h.Raw, f.HeaderBytes) {
			t.Errorf("%s: Marshal differs from the bytes read", path)
		}
		h.FileProperties.Broadcast = true
		h.FileProperties.Seekable = false
		h.FileProperties.DataPacketsCount = 0
		h2, err := ParseHeader(h.Marshal())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !h2.FileProperties.Broadcast || h2.FileProperties.Seekable || len(h2.Objects) != len(h.Objects) {
			t.Errorf("%s: %+v", path, h2.FileProperties)
		}
		for i, o := range h2.Objects {
			if o.ID != FilePropertiesObjectID && !bytes.Equal(o.Raw, h.Objects[i].Raw) {
				t.Errorf("%s: object %d (%s) changed", path, i, o.ID)
			}
		}
	}
}

// withObject returns the Header Object hdr with obj appended as a child.
func withObject(hdr []byte, obj []byte) []byte {
	b := append(append([]byte(nil), hdr...), obj...)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(b)))
	binary.LittleEndian.PutUint32(b[24:], binary.LittleEndian.Uint32(b[24:])+1)
	return b
}

func TestHeaderEncryptionAndUnknownObjects(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "glass.wmv"))
	for _, id := range []GUID{ContentEncryptionObjectID, ExtendedContentEncryptionObjectID} {
		b := withObject(f.HeaderBytes, makeObject(id, []byte{0, 0, 0, 0}))
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Encrypted {
			t.Errorf("%s not reported as DRM", id)
		}
	}
	unknown := makeObject(mustGUID("01234567-89AB-CDEF-0123-456789ABCDEF"), []byte("kept as is"))
	b := withObject(f.HeaderBytes, unknown)
	// bytes after the Header Object (a Data Object header) are ignored
	b = append(b, make([]byte, DataObjectHeaderSize)...)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Encrypted || !bytes.Equal(h.Objects[len(h.Objects)-1].Raw, unknown) || !bytes.Equal(h.Marshal(), b[:len(b)-DataObjectHeaderSize]) {
		t.Error("unknown object not kept byte for byte")
	}
}

// TestParseHeaderBadInput: truncations and lying sizes give errors, never
// a panic.
func TestParseHeaderBadInput(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "jeanne.wma"))
	hdr := f.HeaderBytes
	for n := 0; n < len(hdr); n++ {
		if _, err := ParseHeader(hdr[:n]); err == nil {
			t.Fatalf("header cut at %d bytes accepted", n)
		}
	}
	if _, err := ParseHeader(make([]byte, 100)); !errors.Is(err, ErrNotHeader) {
		t.Errorf("zeros: %v", err)
	}
	huge := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint64(huge[16:], 1<<40)
	if _, err := ParseHeader(huge); err == nil {
		t.Error("Header Object size of 1 TB accepted")
	}
	// every child size field lying: too big by one
	h, _ := ParseHeader(hdr)
	off := headerObjectFixedSize
	for _, o := range h.Objects {
		bad := append([]byte(nil), hdr...)
		binary.LittleEndian.PutUint64(bad[off+16:], uint64(len(o.Raw)+1))
		if _, err := ParseHeader(bad); err == nil {
			t.Errorf("%s with a size one too big accepted", objectName(o.ID))
		}
		off += len(o.Raw)
	}
	// the packet size must be fixed and sane
	bad := append([]byte(nil), hdr...)
	fpOff := bytes.Index(bad, FilePropertiesObjectID[:])
	binary.LittleEndian.PutUint32(bad[fpOff+objectHeaderSize+72:], 0)
	if _, err := ParseHeader(bad); err == nil {
		t.Error("packet size 0 accepted")
	}
}

// TestHeaderMiscountedObjects: a wrong Number of Header Objects is
// tolerated and written back as it was.
func TestHeaderMiscountedObjects(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "Sire.wma"))
	b := append([]byte(nil), f.HeaderBytes...)
	binary.LittleEndian.PutUint32(b[24:], 99)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Marshal(), b) {
		t.Error("Number of Header Objects not kept")
	}
	h.Objects = append(h.Objects, Object{ID: PaddingObjectID, Raw: makeObject(PaddingObjectID, make([]byte, 8))})
	h2, err := ParseHeader(h.Marshal())
	if err != nil || binary.LittleEndian.Uint32(h2.Raw[24:]) != uint32(len(h.Objects)) {
		t.Errorf("after adding an object: %v", err)
	}
}
