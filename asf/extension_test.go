package asf

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
)

// addExtensionObjects returns the Header Object hdr with objs appended to
// its Header Extension Object.
func addExtensionObjects(t *testing.T, hdr []byte, objs ...[]byte) []byte {
	t.Helper()
	h, err := ParseHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), hdr[:headerObjectFixedSize]...)
	for _, o := range h.Objects {
		if o.ID != HeaderExtensionObjectID {
			out = append(out, o.Raw...)
			continue
		}
		ext := append([]byte(nil), o.Raw...)
		for _, x := range objs {
			ext = append(ext, x...)
		}
		binary.LittleEndian.PutUint64(ext[16:], uint64(len(ext)))
		binary.LittleEndian.PutUint32(ext[objectHeaderSize+18:], uint32(len(ext)-objectHeaderSize-22))
		out = append(out, ext...)
	}
	binary.LittleEndian.PutUint64(out[16:], uint64(len(out)))
	return out
}

// TestHeaderExtensionObjects: the Header Extension children that our test
// files lack, built by hand: a stream declared only inside Extended Stream
// Properties (with stream names and payload extension systems), Group
// Mutual Exclusion, Stream Prioritization, Bandwidth Sharing, Index
// Parameters and Metadata; the Content Encryption of 4.13 marks DRM.
func TestHeaderExtensionObjects(t *testing.T) {
	f, _ := openTestFile(t, filepath.Join("testdata", "media", "jeanne.wma"))

	// stream 5: audio, only in the Extended Stream Properties Object
	hidden := streamPropertiesBody(WriterStream{Number: 5, Type: StreamTypeAudio,
		Audio: &WaveFormatEx{FormatTag: 0x161, Channels: 1, SamplesPerSec: 22050, BlockAlign: 100}})
	var esp []byte
	esp = putU64(esp, 0)
	esp = putU64(esp, 0)
	for _, v := range []uint32{32000, 1000, 0, 32000, 1000, 0, 100, 2} {
		esp = putU32(esp, v)
	}
	esp = putU16(esp, 5) // stream number
	esp = putU16(esp, 0) // language index
	esp = putU64(esp, 0)
	esp = putU16(esp, 1) // stream names
	esp = putU16(esp, 2) // payload extension systems
	name := encodeUTF16("hidden")
	esp = putU16(esp, 0)
	esp = putU16(esp, uint16(len(name)))
	esp = append(esp, name...)
	sysFixed := mustGUID("C6BD9450-867F-4907-83A3-C77921B733AD") // sample duration
	sysVar := mustGUID("D590DC20-07BC-436C-9CF7-F3BBFBF1A4DC")   // variable size
	esp = append(esp, sysFixed[:]...)
	esp = putU16(esp, 2)
	esp = putU32(esp, 0)
	esp = append(esp, sysVar[:]...)
	esp = putU16(esp, 0xffff)
	esp = putU32(esp, 3)
	esp = append(esp, 'x', 'y', 'z')
	esp = append(esp, makeObject(StreamPropertiesObjectID, hidden)...)

	group := append([]byte(nil), MutexBitrate[:]...)
	group = putU16(group, 2)
	group = append(group, 2, 0, 1, 0, 5, 0) // {1, 5}
	group = append(group, 1, 0, 1, 0)       // {1}
	prio := []byte{2, 0, 1, 0, 1, 0, 5, 0, 0, 0}
	sharing := mustGUID("AF6060AA-5197-11D2-B6AF-00C04FD908E9") // exclusive bandwidth sharing
	bw := append([]byte(nil), sharing[:]...)
	bw = putU32(bw, 128000)
	bw = putU32(bw, 3000)
	bw = append(bw, 2, 0, 1, 0, 5, 0)
	ip := []byte{0xe8, 0x03, 0, 0, 1, 0, 5, 0, 2, 0}
	var meta []byte
	meta = putU16(meta, 1)
	mname := encodeUTF16("WM/Hidden")
	meta = append(meta, 0, 0, 5, 0)
	meta = putU16(meta, uint16(len(mname)))
	meta = putU16(meta, TypeDWORD)
	meta = putU32(meta, 4)
	meta = append(meta, mname...)
	meta = putU32(meta, 42)

	hdr := addExtensionObjects(t, f.HeaderBytes,
		makeObject(ExtendedStreamPropertiesObjectID, esp),
		makeObject(GroupMutualExclusionObjectID, group),
		makeObject(StreamPrioritizationObjectID, prio),
		makeObject(BandwidthSharingObjectID, bw),
		makeObject(IndexParametersObjectID, ip),
		makeObject(MetadataObjectID, meta))
	h, err := ParseHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Marshal(), hdr) {
		t.Error("round trip changed the header")
	}
	s := h.Stream(5)
	if s == nil || s.Audio == nil || s.Audio.SamplesPerSec != 22050 || s.Extended == nil || s.Bitrate != 32000 {
		t.Fatalf("hidden stream: %+v", s)
	}
	e := s.Extended
	if len(e.StreamNames) != 1 || e.StreamNames[0].Name != "hidden" || len(e.PayloadExtensionSystems) != 2 ||
		e.PayloadExtensionSystems[1].DataSize != 0xffff || string(e.PayloadExtensionSystems[1].Info) != "xyz" {
		t.Errorf("extended stream properties: %+v", e)
	}
	rep := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x20, 3, 0, 'a', 'b', 'c'}
	var got []string
	if err := e.PayloadExtensions(rep, func(sys *PayloadExtensionSystem, d []byte) {
		got = append(got, sys.ID.String()+"="+string(d))
	}); err != nil || len(got) != 2 || got[1] != sysVar.String()+"=abc" {
		t.Errorf("payload extensions: %q %v", got, err)
	}
	if err := e.PayloadExtensions(rep[:12], func(*PayloadExtensionSystem, []byte) {}); err == nil {
		t.Error("truncated payload extension accepted")
	}
	if len(h.GroupMutualExclusions) != 1 || len(h.GroupMutualExclusions[0].Records) != 2 ||
		!slices.Equal(h.GroupMutualExclusions[0].Records[0], []uint16{1, 5}) {
		t.Errorf("group mutual exclusion: %+v", h.GroupMutualExclusions)
	}
	if len(h.StreamPriorities) != 2 || !h.StreamPriorities[0].Mandatory || h.StreamPriorities[1].StreamNumber != 5 {
		t.Errorf("stream prioritization: %+v", h.StreamPriorities)
	}
	if len(h.BandwidthSharing) != 1 || h.BandwidthSharing[0].DataBitrate != 128000 ||
		!slices.Equal(h.BandwidthSharing[0].Streams, []uint16{1, 5}) {
		t.Errorf("bandwidth sharing: %+v", h.BandwidthSharing)
	}
	if ip := h.IndexParameters; ip == nil || ip.EntryTimeInterval != 1000 || len(ip.Specifiers) != 1 ||
		ip.Specifiers[0] != (IndexSpecifier{StreamNumber: 5, IndexType: 2}) {
		t.Errorf("index parameters: %+v", h.IndexParameters)
	}
	if len(h.Metadata) != 1 || h.Metadata[0].Name != "WM/Hidden" || h.Metadata[0].StreamNumber != 5 ||
		h.Metadata[0].String() != "42" {
		t.Errorf("metadata: %+v", h.Metadata)
	}
	// Advanced Content Encryption inside the extension means DRM
	drm, err := ParseHeader(addExtensionObjects(t, f.HeaderBytes, makeObject(AdvancedContentEncryptionObjectID, []byte{0, 0})))
	if err != nil || !drm.Encrypted {
		t.Errorf("advanced content encryption: %v %v", drm != nil && drm.Encrypted, err)
	}
	// a truncated Extended Stream Properties is an error
	if _, err := ParseHeader(addExtensionObjects(t, f.HeaderBytes,
		makeObject(ExtendedStreamPropertiesObjectID, esp[:70]))); err == nil {
		t.Error("truncated Extended Stream Properties accepted")
	}
}

func TestSmallHelpers(t *testing.T) {
	if MakeFourCC("WMV2").String() != "WMV2" {
		t.Error("FourCC")
	}
	fp := FileProperties{PlayDuration: 50_000_000, Preroll: 3000}
	if fp.Duration().Seconds() != 2 {
		t.Errorf("duration %v", fp.Duration())
	}
	if _, err := ParseGUID("nonsense"); err == nil {
		t.Error("bad GUID accepted")
	}
	if g := mustGUID("75B22630-668E-11CF-A6D9-00AA0062CE6C"); g != HeaderObjectID || g.String() != "75B22630-668E-11CF-A6D9-00AA0062CE6C" {
		t.Errorf("GUID round trip: %s", g)
	}
	if d := (Descriptor{Type: TypeBool, Value: []byte{1, 0, 0, 0}}); d.String() != "1" {
		t.Errorf("bool descriptor %q", d.String())
	}
}
