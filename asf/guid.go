package asf

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an ASF object or type identifier in its on-disk byte order
// (ASF spec 2.1: the first three fields little-endian, the rest as is).
type GUID [16]byte

// String returns the canonical form, e.g. "75B22630-668E-11CF-A6D9-00AA0062CE6C".
func (g GUID) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

// ParseGUID parses the canonical form of a GUID.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 ||
		len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("asf: malformed GUID %q", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("asf: malformed GUID %q: %w", s, err)
	}
	// first three fields are stored little-endian
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, nil
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// Object identifiers of the ASF specification (rev. 01.20.03, section 10).
var (
	// Top-level objects (10.1).
	HeaderObjectID           = mustGUID("75B22630-668E-11CF-A6D9-00AA0062CE6C")
	DataObjectID             = mustGUID("75B22636-668E-11CF-A6D9-00AA0062CE6C")
	SimpleIndexObjectID      = mustGUID("33000890-E5B1-11CF-89F4-00A0C90349CB")
	IndexObjectID            = mustGUID("D6E229D3-35DA-11D1-9034-00A0C90349BE")
	MediaObjectIndexObjectID = mustGUID("FEB103F8-12AD-4C64-840F-2A1D2F7AD48C")
	TimecodeIndexObjectID    = mustGUID("3CB73FD0-0C4A-4803-953D-EDF7B6228F0C")

	// Header Object children (10.2).
	FilePropertiesObjectID             = mustGUID("8CABDCA1-A947-11CF-8EE4-00C00C205365")
	StreamPropertiesObjectID           = mustGUID("B7DC0791-A9B7-11CF-8EE6-00C00C205365")
	HeaderExtensionObjectID            = mustGUID("5FBF03B5-A92E-11CF-8EE3-00C00C205365")
	CodecListObjectID                  = mustGUID("86D15240-311D-11D0-A3A4-00A0C90348F6")
	ScriptCommandObjectID              = mustGUID("1EFB1A30-0B62-11D0-A39B-00A0C90348F6")
	MarkerObjectID                     = mustGUID("F487CD01-A951-11CF-8EE6-00C00C205365")
	BitrateMutualExclusionObjectID     = mustGUID("D6E229DC-35DA-11D1-9034-00A0C90349BE")
	ErrorCorrectionObjectID            = mustGUID("75B22635-668E-11CF-A6D9-00AA0062CE6C")
	ContentDescriptionObjectID         = mustGUID("75B22633-668E-11CF-A6D9-00AA0062CE6C")
	ExtendedContentDescriptionObjectID = mustGUID("D2D0A440-E307-11D2-97F0-00A0C95EA850")
	ContentBrandingObjectID            = mustGUID("2211B3FA-BD23-11D2-B4B7-00A0C955FC6E")
	StreamBitratePropertiesObjectID    = mustGUID("7BF875CE-468D-11D1-8D82-006097C9A2B2")
	ContentEncryptionObjectID          = mustGUID("2211B3FB-BD23-11D2-B4B7-00A0C955FC6E")
	ExtendedContentEncryptionObjectID  = mustGUID("298AE614-2622-4C17-B935-DAE07EE9289C")
	DigitalSignatureObjectID           = mustGUID("2211B3FC-BD23-11D2-B4B7-00A0C955FC6E")
	PaddingObjectID                    = mustGUID("1806D474-CADF-4509-A4BA-9AABCB96AAE8")

	// Header Extension Object children (10.3).
	ExtendedStreamPropertiesObjectID   = mustGUID("14E6A5CB-C672-4332-8399-A96952065B5A")
	AdvancedMutualExclusionObjectID    = mustGUID("A08649CF-4775-4670-8A16-6E35357566CD")
	GroupMutualExclusionObjectID       = mustGUID("D1465A40-5A79-4338-B71B-E36B8FD6C249")
	StreamPrioritizationObjectID       = mustGUID("D4FED15B-88D3-454F-81F0-ED5C45999E24")
	BandwidthSharingObjectID           = mustGUID("A69609E6-517B-11D2-B6AF-00C04FD908E9")
	LanguageListObjectID               = mustGUID("7C4346A9-EFE0-4BFC-B229-393EDE415C85")
	MetadataObjectID                   = mustGUID("C5F8CBEA-5BAF-4877-8467-AA8C44FA4CCA")
	MetadataLibraryObjectID            = mustGUID("44231C94-9498-49D1-A141-1D134E457054")
	IndexParametersObjectID            = mustGUID("D6E229DF-35DA-11D1-9034-00A0C90349BE")
	MediaObjectIndexParametersObjectID = mustGUID("6B203BAD-3F11-48E4-ACA8-D7613DE2CFA7")
	TimecodeIndexParametersObjectID    = mustGUID("F55E496D-9797-4B5D-8C8B-604DFE9BFB24")
	CompatibilityObjectID              = mustGUID("26F18B5D-4584-47EC-9F5F-0E651F0452C9")
	AdvancedContentEncryptionObjectID  = mustGUID("43058533-6981-49E6-9B74-AD12CB86D58C")

	// Stream types (10.4).
	StreamTypeAudio          = mustGUID("F8699E40-5B4D-11CF-A8FD-00805F5C442B")
	StreamTypeVideo          = mustGUID("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B")
	StreamTypeCommand        = mustGUID("59DACFC0-59E6-11D0-A3AC-00A0C90348F6")
	StreamTypeJFIF           = mustGUID("B61BE100-5B4E-11CF-A8FD-00805F5C442B")
	StreamTypeDegradableJPEG = mustGUID("35907DE0-E415-11CF-A917-00805F5C442B")
	StreamTypeFileTransfer   = mustGUID("91BD222C-F21C-497A-8B6D-5AA86BFC0185")
	StreamTypeBinary         = mustGUID("3AFB65E2-47EF-40F2-AC2C-70A90D71D343")

	// Error correction types (10.6).
	NoErrorCorrection = mustGUID("20FB5700-5B55-11CF-A8FD-00805F5C442B")
	AudioSpread       = mustGUID("BFC3CD50-618F-11CF-8BB2-00AA00B4E220")

	// Mutual exclusion types (10.8).
	MutexLanguage = mustGUID("D6E22A00-35DA-11D1-9034-00A0C90349BE")
	MutexBitrate  = mustGUID("D6E22A01-35DA-11D1-9034-00A0C90349BE")
	MutexUnknown  = mustGUID("D6E22A02-35DA-11D1-9034-00A0C90349BE")

	// Reserved fields (10.5).
	Reserved1 = mustGUID("ABD3D211-A9BA-11CF-8EE6-00C00C205365") // Header Extension
	Reserved2 = mustGUID("86D15241-311D-11D0-A3A4-00A0C90348F6") // Codec List
	Reserved3 = mustGUID("4B1ACBE3-100B-11D0-A39B-00A0C90348F6") // Script Command
	Reserved4 = mustGUID("4CFEDB20-75F6-11CF-9C0F-00A0C90349CB") // Marker
)
