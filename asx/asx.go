// Package asx reads Windows Media metafiles: ASX 3.0 (.asx, .wax, .wvx)
// with ENTRY, REF (alternatives in fallback order), ENTRYREF, REPEAT,
// TITLE, AUTHOR and BASE, written as loosely as real files are (any tag
// case, unquoted attributes, bare ampersands, unclosed tags, Windows-1252
// or UTF-16 text), and the older "[Reference]" INI form (Ref1=...).
//
// Parse turns bytes into a Metafile; Fetch gets one over HTTP with a size
// cap and the caller's dial and host checks, following ENTRYREFs; Resolve
// gives the ordered list of stream URLs to try plus title and author.
package asx

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNotMetafile: the bytes are neither ASX nor the [Reference] form.
var ErrNotMetafile = errors.New("asx: not a metafile")

// Limits on what Parse keeps.
const (
	MaxEntries   = 1024 // entries per metafile
	MaxRefs      = 64   // REFs per entry
	MaxRepeat    = 16   // REPEAT COUNT honoured up to this
	maxDepth     = 64   // element nesting
	maxTextBytes = 4096 // TITLE, AUTHOR and the like
)

// Metafile is a parsed metafile.
type Metafile struct {
	Version   string // "3.0"; "" for the [Reference] form
	Title     string
	Author    string
	Copyright string
	Abstract  string
	Base      string // BASE HREF of the ASX element, as written
	Entries   []Entry
}

// Entry is one ENTRY (or one RefN of the INI form), or an ENTRYREF.
type Entry struct {
	Title, Author, Copyright, Abstract string
	// Refs are the REF HREFs in fallback order, resolved against BASE and
	// the metafile's own URL.
	Refs []string
	// EntryRef is the resolved HREF of an ENTRYREF: another metafile whose
	// entries belong here (Fetch splices them in).
	EntryRef string
}

// Parse reads a metafile. base is the URL it came from (nil: relative
// references stay relative).
func Parse(b []byte, base *url.URL) (*Metafile, error) {
	text, err := decodeText(b)
	if err != nil {
		return nil, err
	}
	trimmed := strings.TrimSpace(text)
	switch {
	case hasPrefixFold(trimmed, "[reference]"):
		return parseINI(trimmed, base), nil
	case hasPrefixFold(trimmed, "<asx") || hasPrefixFold(trimmed, "<?xml") || hasPrefixFold(trimmed, "<!--"):
		m, err := parseASX(trimmed, base)
		if err != nil {
			return nil, err
		}
		return m, nil
	case isURLList(trimmed):
		return parseList(trimmed, base), nil
	}
	return nil, ErrNotMetafile
}

// Sniff reports whether b (the first bytes of a response) looks like a
// metafile rather than media.
func Sniff(b []byte) bool {
	text, err := decodeText(b)
	if err != nil {
		return false
	}
	t := strings.TrimSpace(text)
	return hasPrefixFold(t, "[reference]") || hasPrefixFold(t, "<asx") ||
		((hasPrefixFold(t, "<?xml") || hasPrefixFold(t, "<!--")) && containsFold(t, "<asx")) || isURLList(t)
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// decodeText turns the file into UTF-8: UTF-16 with a BOM, UTF-8 (with or
// without BOM), else Windows-1252 (what ASX editors wrote).
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		var order binary.ByteOrder = binary.LittleEndian
		if b[0] == 0xFE {
			order = binary.BigEndian
		}
		b = b[2:]
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = order.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", ErrNotMetafile // binary: ASF or anything else
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return decode1252(b), nil
}

// cp1252 maps 0x80..0x9F of Windows-1252; the rest is Latin-1.
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

func decode1252(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(cp1252[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// resolve makes href absolute against the BASE in force and the file's URL.
func resolve(href string, bases ...*url.URL) string {
	href = strings.TrimSpace(href)
	if href == "" {
		return ""
	}
	ref, err := url.Parse(href)
	if err != nil {
		// Real files carry spaces and other junk in URLs: keep them as written.
		return href
	}
	for _, b := range bases {
		if b != nil {
			return b.ResolveReference(ref).String()
		}
	}
	return ref.String()
}

func parseBase(href string, parent *url.URL) *url.URL {
	href = strings.TrimSpace(href)
	if href == "" {
		return nil
	}
	u, err := url.Parse(href)
	if err != nil {
		return nil
	}
	if parent != nil {
		u = parent.ResolveReference(u)
	}
	if !u.IsAbs() {
		return nil
	}
	return u
}

// parseINI reads the [Reference] form: Ref1=..., Ref2=... in number order.
func parseINI(text string, base *url.URL) *Metafile {
	m := &Metafile{}
	refs := map[int]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		k = strings.TrimSpace(k)
		if !ok || len(k) < 4 || !strings.EqualFold(k[:3], "ref") {
			continue
		}
		n, err := strconv.Atoi(k[3:])
		if err != nil || n < 0 || len(refs) >= MaxEntries {
			continue
		}
		if _, dup := refs[n]; !dup {
			refs[n] = strings.TrimSpace(v)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(refs)) {
		if r := resolve(refs[n], base); r != "" {
			m.Entries = append(m.Entries, Entry{Refs: []string{r}})
		}
	}
	return m
}

// isURLList: some "metafiles" are just stream URLs, one per line.
func isURLList(t string) bool {
	line, _, _ := strings.Cut(t, "\n")
	line = strings.ToLower(strings.TrimSpace(line))
	for _, p := range []string{"mms://", "mmsh://", "mmst://", "mmsu://", "http://", "https://", "rtsp://"} {
		if strings.HasPrefix(line, p) && !strings.ContainsAny(line, " <>\"") {
			return true
		}
	}
	return false
}

func parseList(t string, base *url.URL) *Metafile {
	m := &Metafile{}
	for _, line := range strings.Split(t, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || len(m.Entries) >= MaxEntries {
			continue
		}
		if isURLList(line) {
			m.Entries = append(m.Entries, Entry{Refs: []string{resolve(line, base)}})
		}
	}
	return m
}

// frame is an open element of the ASX tree.
type frame struct {
	name  string
	entry int // index of the ENTRY being filled, -1 outside

	base   *url.URL // BASE in force inside
	repeat int      // REPEAT count
	start  int      // index of the first entry inside a REPEAT
}

// parseASX reads the XML form with a non-strict decoder; anything after
// an XML error is dropped, keeping what came before (files are often
// truncated or never close their tags).
func parseASX(text string, base *url.URL) (*Metafile, error) {
	d := xml.NewDecoder(strings.NewReader(quoteAttributes(text)))
	d.Strict = false
	d.AutoClose = []string{"ref", "entryref", "base", "param", "moreinfo", "banner", "logo", "duration", "starttime", "previewduration", "endmarker", "startmarker"}
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) { return in, nil } // text is UTF-8 already
	m := &Metafile{}
	stack := []frame{{name: "", base: base, entry: -1}}
	var textBuf strings.Builder
	sawASX := false
	for {
		tok, err := d.Token()
		if err != nil {
			break // io.EOF or a syntax error: keep what we have
		}
		top := &stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("asx: elements nested deeper than %d", maxDepth)
			}
			f := frame{name: name, entry: top.entry, base: top.base}
			href := attr(t, "href")
			switch name {
			case "asx":
				sawASX = true
				m.Version = attr(t, "version")
			case "entry":
				if top.entry < 0 && len(m.Entries) < MaxEntries {
					m.Entries = append(m.Entries, Entry{})
					f.entry = len(m.Entries) - 1
				}
			case "ref":
				if top.entry >= 0 && len(m.Entries[top.entry].Refs) < MaxRefs {
					e := &m.Entries[top.entry]
					if r := resolve(href, top.base); r != "" {
						e.Refs = append(e.Refs, r)
					}
				}
			case "entryref":
				if top.entry < 0 && len(m.Entries) < MaxEntries {
					if r := resolve(href, top.base); r != "" {
						m.Entries = append(m.Entries, Entry{EntryRef: r})
					}
				}
			case "base":
				if b := parseBase(href, top.base); b != nil {
					top.base = b
					if top.name == "asx" {
						m.Base = href
					}
				}
			case "repeat":
				f.repeat, f.start = 1, len(m.Entries)
				if n, err := strconv.Atoi(attr(t, "count")); err == nil && n > 1 {
					f.repeat = min(n, MaxRepeat)
				}
			}
			stack = append(stack, f)
			textBuf.Reset()
		case xml.CharData:
			if textBuf.Len() < maxTextBytes {
				textBuf.Write(t[:min(len(t), maxTextBytes-textBuf.Len())])
			}
		case xml.EndElement:
			name := strings.ToLower(t.Name.Local)
			// Close up to the matching element; unmatched end tags are ignored.
			i := len(stack) - 1
			for i > 0 && stack[i].name != name {
				i--
			}
			if i == 0 {
				continue
			}
			s := strings.TrimSpace(textBuf.String())
			textBuf.Reset()
			parent := &stack[i-1]
			closing := stack[i]
			switch name {
			case "title", "author", "copyright", "abstract":
				setText(m, parent, name, s)
			case "repeat":
				if stack[i].entry >= 0 {
					break // REPEAT inside an ENTRY: not ASX 3.0; ignored
				}
				// The entries inside play COUNT times; a list of streams to
				// try needs them once, a playlist all: keep them COUNT times
				// within the cap.
				block := append([]Entry(nil), m.Entries[closing.start:]...)
				for r := 1; r < closing.repeat && len(m.Entries)+len(block) <= MaxEntries; r++ {
					m.Entries = append(m.Entries, block...)
				}
			}
			stack = stack[:i]
		}
	}
	if !sawASX {
		return nil, ErrNotMetafile
	}
	return m, nil
}

// setText stores TITLE, AUTHOR, COPYRIGHT or ABSTRACT on the entry or the
// metafile that encloses it.
func setText(m *Metafile, parent *frame, name, s string) {
	if parent.entry >= 0 && parent.name != "asx" {
		e := &m.Entries[parent.entry]
		switch name {
		case "title":
			e.Title = s
		case "author":
			e.Author = s
		case "copyright":
			e.Copyright = s
		case "abstract":
			e.Abstract = s
		}
		return
	}
	if parent.name != "asx" {
		return
	}
	switch name {
	case "title":
		m.Title = s
	case "author":
		m.Author = s
	case "copyright":
		m.Copyright = s
	case "abstract":
		m.Abstract = s
	}
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value
		}
	}
	return ""
}

// URLs returns every REF of every entry in order (entries in order, REFs
// in fallback order), without duplicates. ENTRYREFs are left out (Fetch
// replaces them by the entries they name).
func (m *Metafile) URLs() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range m.Entries {
		for _, r := range e.Refs {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// DisplayTitle is the metafile's title, else the first entry's.
func (m *Metafile) DisplayTitle() string {
	if m.Title != "" {
		return m.Title
	}
	for _, e := range m.Entries {
		if e.Title != "" {
			return e.Title
		}
	}
	return ""
}

// DisplayAuthor is the metafile's author, else the first entry's.
func (m *Metafile) DisplayAuthor() string {
	if m.Author != "" {
		return m.Author
	}
	for _, e := range m.Entries {
		if e.Author != "" {
			return e.Author
		}
	}
	return ""
}

// quoteAttributes puts quotes around unquoted attribute values
// (<REF HREF=mms://host/path>), which real files have and which the XML
// decoder cannot read even when not strict. Comments pass unchanged.
func quoteAttributes(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 64)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+4+end+3])
			i += 4 + end + 3
			continue
		}
		// Inside a tag up to '>': quote what follows '=' when unquoted.
		b.WriteByte(c)
		i++
		var quote byte
		for i < len(s) {
			c = s[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '=':
				b.WriteByte(c)
				i++
				for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
					i++
				}
				if i < len(s) && s[i] != '"' && s[i] != '\'' {
					j := i
					for j < len(s) && s[j] != '>' && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' {
						j++
					}
					b.WriteByte('"')
					b.WriteString(strings.ReplaceAll(s[i:j], `"`, "&quot;"))
					b.WriteByte('"')
					i = j
				}
				continue
			}
			b.WriteByte(c)
			i++
			if quote == 0 && c == '>' {
				break
			}
		}
	}
	return b.String()
}
