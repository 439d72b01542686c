package imagetest

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseYAML reads the subset of YAML that Kubernetes manifests are written
// in: documents separated by "---", block mappings and sequences by
// indentation, flow mappings and sequences ({a: b}, [x, y]), plain, single-
// and double-quoted scalars, comments. Scalars stay strings. Anchors, tags,
// multi-line scalars (| and >) and the like are errors, not guesses.
func ParseYAML(src string) ([]any, error) {
	var docs []any
	for _, d := range splitDocs(src) {
		lines, err := yamlLines(d)
		if err != nil {
			return nil, err
		}
		if len(lines) == 0 {
			continue
		}
		p := &yamlParser{lines: lines}
		v, err := p.block(lines[0].indent)
		if err != nil {
			return nil, err
		}
		if p.i < len(p.lines) {
			return nil, fmt.Errorf("yaml line %d: unexpected indentation", p.lines[p.i].no)
		}
		docs = append(docs, v)
	}
	return docs, nil
}

type yamlLine struct {
	no, indent int
	text       string
}

func splitDocs(src string) []string {
	var docs []string
	var cur strings.Builder
	for _, l := range strings.Split(src, "\n") {
		if strings.TrimRight(l, " \t\r") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(l + "\n")
	}
	return append(docs, cur.String())
}

// yamlLines drops blank lines and comments and measures indentation. Line
// numbers count within the document.
func yamlLines(doc string) ([]yamlLine, error) {
	var out []yamlLine
	for i, l := range strings.Split(doc, "\n") {
		l = strings.TrimRight(stripComment(l), " \t\r")
		t := strings.TrimLeft(l, " ")
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "\t") {
			return nil, fmt.Errorf("yaml line %d: tab indentation", i+1)
		}
		if strings.ContainsAny(t[:1], "&*!|>%@`") {
			return nil, fmt.Errorf("yaml line %d: %q is not supported", i+1, t)
		}
		out = append(out, yamlLine{no: i + 1, indent: len(l) - len(t), text: t})
	}
	return out, nil
}

// stripComment removes "#..." that starts a line or follows a blank,
// outside quotes.
func stripComment(l string) string {
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return l[:i]
		}
	}
	return l
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

func isItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

func (p *yamlParser) block(indent int) (any, error) {
	if isItem(p.lines[p.i].text) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) seq(indent int) (any, error) {
	var out []any
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && isItem(p.lines[p.i].text) {
		l := &p.lines[p.i]
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		switch {
		case rest == "":
			p.i++
			if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.block(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		case keyOf(rest) >= 0:
			// "- key: value" starts a mapping at the column of key.
			l.indent += len(l.text) - len(rest)
			l.text = rest
			v, err := p.mapping(l.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			v, err := flowValue(rest, l.no)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			p.i++
		}
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && !isItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		k := keyOf(l.text)
		if k < 0 {
			return nil, fmt.Errorf("yaml line %d: want key: value, have %q", l.no, l.text)
		}
		key, err := scalar(strings.TrimSpace(l.text[:k]), l.no)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("yaml line %d: duplicate key %q", l.no, key)
		}
		rest := strings.TrimSpace(l.text[k+1:])
		p.i++
		if rest != "" {
			if out[key], err = flowValue(rest, l.no); err != nil {
				return nil, err
			}
			continue
		}
		// A nested block: deeper, or a sequence at the key's own column.
		if p.i < len(p.lines) && (p.lines[p.i].indent > indent || (p.lines[p.i].indent == indent && isItem(p.lines[p.i].text))) {
			if out[key], err = p.block(p.lines[p.i].indent); err != nil {
				return nil, err
			}
			continue
		}
		out[key] = nil
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, fmt.Errorf("yaml line %d: unexpected indentation", p.lines[p.i].no)
	}
	return out, nil
}

// keyOf returns the index of the ":" that ends a mapping key in t, or -1.
func keyOf(t string) int {
	var quote byte
	depth := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 0 && (i+1 == len(t) || t[i+1] == ' '):
			return i
		}
	}
	return -1
}

// flowValue reads a scalar or a flow collection that fills the rest of a
// line.
func flowValue(s string, line int) (any, error) {
	f := &flowParser{s: s, line: line}
	v, err := f.value()
	if err != nil {
		return nil, err
	}
	f.space()
	if f.pos != len(f.s) {
		return nil, fmt.Errorf("yaml line %d: trailing %q", line, f.s[f.pos:])
	}
	return v, nil
}

type flowParser struct {
	s         string
	pos, line int
	depth     int
}

func (f *flowParser) space() {
	for f.pos < len(f.s) && f.s[f.pos] == ' ' {
		f.pos++
	}
}

func (f *flowParser) errorf(format string, a ...any) error {
	return fmt.Errorf("yaml line %d: %s in %q", f.line, fmt.Sprintf(format, a...), f.s)
}

func (f *flowParser) value() (any, error) {
	f.space()
	if f.pos >= len(f.s) {
		return nil, f.errorf("missing value")
	}
	switch f.s[f.pos] {
	case '{':
		return f.collection('}')
	case '[':
		return f.collection(']')
	}
	if strings.ContainsRune("&*!|>%@`", rune(f.s[f.pos])) {
		return nil, f.errorf("%q is not supported", f.s[f.pos:])
	}
	end := f.pos
	if q := f.s[f.pos]; q == '"' || q == '\'' {
		end++
		for end < len(f.s) && f.s[end] != q {
			if q == '"' && f.s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(f.s) {
			return nil, f.errorf("unterminated quote")
		}
		end++
	} else {
		for end < len(f.s) && (f.depth == 0 || !strings.ContainsRune(",]}", rune(f.s[end]))) &&
			!(f.depth > 0 && f.s[end] == ':' && (end+1 == len(f.s) || f.s[end+1] == ' ')) {
			end++
		}
	}
	v, err := scalar(strings.TrimSpace(f.s[f.pos:end]), f.line)
	f.pos = end
	return v, err
}

func (f *flowParser) collection(closer byte) (any, error) {
	f.pos++
	f.depth++
	defer func() { f.depth-- }()
	var list []any
	m := map[string]any{}
	for {
		f.space()
		if f.pos < len(f.s) && f.s[f.pos] == closer {
			f.pos++
			if closer == ']' {
				return list, nil
			}
			return m, nil
		}
		v, err := f.value()
		if err != nil {
			return nil, err
		}
		f.space()
		if closer == '}' {
			k, ok := v.(string)
			if !ok || f.pos >= len(f.s) || f.s[f.pos] != ':' {
				return nil, f.errorf("want key: value")
			}
			f.pos++
			if m[k], err = f.value(); err != nil {
				return nil, err
			}
			f.space()
		} else {
			list = append(list, v)
		}
		if f.pos < len(f.s) && f.s[f.pos] == ',' {
			f.pos++
			continue
		}
		if f.pos >= len(f.s) || f.s[f.pos] != closer {
			return nil, f.errorf("want , or %c", closer)
		}
	}
}

func scalar(s string, line int) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("yaml line %d: %s: %w", line, s, err)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("yaml line %d: unterminated quote %s", line, s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	return s, nil
}
