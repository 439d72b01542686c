package imagetest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseYAML(t *testing.T) {
	src := `# comment
a: 1 # trailing
b:
  c: "x # not a comment"
  d: ['y', "z\tq", {e: f, g: [h]}]
list:
- one
- k: v
  k2:
    deep: true
-
  nested: yes
---
second: {port: 8080, path: /readyz}
`
	docs, err := ParseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{
			"a": "1",
			"b": map[string]any{"c": "x # not a comment", "d": []any{"y", "z\tq", map[string]any{"e": "f", "g": []any{"h"}}}},
			"list": []any{"one", map[string]any{"k": "v", "k2": map[string]any{"deep": "true"}},
				map[string]any{"nested": "yes"}},
		},
		map[string]any{"second": map[string]any{"port": "8080", "path": "/readyz"}},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("got %#v\nwant %#v", docs, want)
	}
}

func TestParseYAMLRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, src := range []string{
		"a: |\n  text\n",   // block scalar
		"a: &x 1\nb: *x\n", // anchors
		"a: 1\n  b: 2\n",   // bad indentation
		"a: {b: 1\n",       // unterminated flow
		"a: 1\na: 2\n",     // duplicate key
		"a: \"x\n",         // unterminated quote
		"just text\n",      // not a mapping
	} {
		if _, err := ParseYAML(src); err == nil {
			t.Errorf("%q: no error", strings.ReplaceAll(src, "\n", `\n`))
		}
	}
}

// FuzzParseYAML: the reader returns an error or a value, never panics or
// hangs, on any input.
func FuzzParseYAML(f *testing.F) {
	f.Add("a: {b: [c, 'd', \"e\"]}\n- x\n---\nk:\n  - v: 1\n")
	f.Add("a:\n- b\n-\n  c: d\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseYAML(s)
	})
}
