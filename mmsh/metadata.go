package mmsh

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Metadata is the payload of a $M packet (2.2.3.6): the playlist entry it
// describes, its features and its content description list (2.2.4).
type Metadata struct {
	PlaylistGenID uint32
	BroadcastID   uint32
	Features      []string
	Descriptions  []ContentDescription
}

// ContentDescription is one language's name-value pairs of a CDL (2.2.4);
// the "language" pair is Language, the others are in Values in order.
type ContentDescription struct {
	Language string
	Values   []NameValue
}

// NameValue is one CDL entry; Type is the VARIANT type (2.2.4.1), Value
// its string form.
type NameValue struct {
	Name  string
	Type  int
	Value string
}

// CDL value types used here (2.2.4.1).
const (
	VTBSTR   = 8
	VTLPWSTR = 31
	VTUI4    = 19
)

// Limits on a parsed $M payload.
const (
	maxMetadataPairs = 1024
	maxMetadataSize  = 1 << 20
)

// Get returns the value of the first pair called name (case-insensitive)
// in any description.
func (m *Metadata) Get(name string) string {
	for _, d := range m.Descriptions {
		for _, v := range d.Values {
			if strings.EqualFold(v.Name, name) {
				return v.Value
			}
		}
	}
	return ""
}

// ParseMetadata parses a Metadata-Payload (2.2.3.6). It is lenient about
// what follows the NUL: a malformed CDL keeps the pairs read before it.
func ParseMetadata(b []byte) (Metadata, error) {
	var m Metadata
	if len(b) > maxMetadataSize {
		return m, fmt.Errorf("%w: $M payload of %d bytes", ErrFraming, len(b))
	}
	head, cdl, _ := bytes.Cut(b, []byte{0})
	p, err := ParsePragma([]string{string(head)})
	if err != nil {
		return m, err
	}
	if p.PlaylistGenID < 0 {
		return m, fmt.Errorf("%w: $M without playlist-gen-id", ErrFraming)
	}
	m.PlaylistGenID = uint32(p.PlaylistGenID)
	if v, ok := p.Other["broadcast-id"]; ok {
		if n := leadingUint(v); n >= 0 {
			m.BroadcastID = uint32(n)
		}
	}
	m.Features = p.Features
	m.Descriptions = parseCDL(string(cdl))
	return m, nil
}

// parseCDL reads content descriptions: "<len>,<name>,<type>,<len>,<value>"
// pairs separated by commas, descriptions by CRLF, each starting with the
// language pair.
func parseCDL(s string) []ContentDescription {
	var out []ContentDescription
	pairs := 0
	for len(s) > 0 && pairs < maxMetadataPairs {
		s = strings.TrimLeft(s, "\r\n,")
		if s == "" {
			break
		}
		name, rest, ok := lengthPrefixed(s)
		if !ok {
			break
		}
		if !strings.HasPrefix(rest, ",") {
			// A length one short ("7,language" in the ABNF of 2.2.4):
			// names hold no commas, so the name runs to the next one.
			var more string
			if more, rest, ok = strings.Cut(rest, ","); !ok {
				break
			}
			name += more
		} else {
			rest = rest[1:]
		}
		typ, rest, ok := strings.Cut(rest, ",")
		if !ok {
			break
		}
		vt, err := strconv.Atoi(typ)
		if err != nil || vt < 0 || vt > 999 {
			break
		}
		value, rest, ok := lengthPrefixed(rest)
		if !ok {
			break
		}
		s = rest
		pairs++
		if strings.EqualFold(name, "language") || len(out) == 0 {
			out = append(out, ContentDescription{})
		}
		d := &out[len(out)-1]
		if strings.EqualFold(name, "language") {
			d.Language = value
			continue
		}
		d.Values = append(d.Values, NameValue{Name: name, Type: vt, Value: value})
	}
	return out
}

// lengthPrefixed reads "<len>,<len bytes>" from s.
func lengthPrefixed(s string) (string, string, bool) {
	n, rest, ok := strings.Cut(s, ",")
	if !ok {
		return "", "", false
	}
	l := leadingUint(n)
	if l < 0 || len(n) > 10 || int64(len(rest)) < l {
		return "", "", false
	}
	return rest[:l], rest[l:], true
}

// AppendMetadata appends the Metadata-Payload of m.
func AppendMetadata(dst []byte, m *Metadata) []byte {
	dst = fmt.Appendf(dst, "playlist-gen-id=%d, broadcast-id=%d, features=\"%s\"", m.PlaylistGenID, m.BroadcastID, strings.Join(m.Features, ","))
	dst = append(dst, 0)
	for _, d := range m.Descriptions {
		dst = fmt.Appendf(dst, "%d,language,%d,%d,%s", len("language"), VTLPWSTR, len(d.Language), d.Language)
		for _, v := range d.Values {
			dst = fmt.Appendf(dst, ",%d,%s,%d,%d,%s", len(v.Name), v.Name, v.Type, len(v.Value), v.Value)
		}
		dst = append(dst, '\r', '\n')
	}
	return dst
}
