package gateway

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	c, err := Normalize(Channel{Name: "a-1", URL: "MMS://user:p%40ss@Example.com:1755/live?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "mms://Example.com:1755/live?x=1" || c.Username != "user" || c.Password != "p@ss" ||
		c.Transport != "auto" || c.Transcode != "auto" || strings.Join(c.Outputs, ",") != "hls,asf" {
		t.Fatalf("%+v", c)
	}
	for scheme, tr := range map[string]string{"mmst": "tcp", "mmsu": "udp", "mmsh": "http", "http": "http"} {
		c, err := Normalize(Channel{Name: "x", URL: scheme + "://example.com/a"})
		if err != nil || c.Transport != tr {
			t.Errorf("%s: %v %s", scheme, err, c.Transport)
		}
	}
	c, _ = Normalize(Channel{Name: "x", URL: "mms://e.com/a", Outputs: []string{"asf", "asf", "llhls"}})
	if strings.Join(c.Outputs, ",") != "asf,llhls" || !HasOutput(c, "hls") {
		t.Errorf("outputs %v", c.Outputs)
	}
	for _, bad := range []Channel{
		{Name: "", URL: "mms://e.com/a"}, {Name: "-x", URL: "mms://e.com/a"}, {Name: strings.Repeat("a", 65), URL: "mms://e.com/a"},
		{Name: "a/b", URL: "mms://e.com/a"}, {Name: "x", URL: "rtsp://e.com/a"}, {Name: "x", URL: "mms:e.com"},
		{Name: "x", URL: "mms://e.com/a#f"}, {Name: "x", URL: "mms://e.com/" + strings.Repeat("a", 3000)},
		{Name: "x", URL: "mmst://e.com/a", Transport: "udp"}, {Name: "x", URL: "mms://e.com/a", Transcode: "maybe"},
		{Name: "x", URL: "mms://e.com/a", Language: "en US"}, {Name: "x", URL: "mms://e.com/a", Password: "a\nb"},
		{Name: "x", URL: "mms://e.com/a", MaxBandwidth: -5},
		{Name: "x", URL: "mms://e.com/a", MMSHPort: -1}, {Name: "x", URL: "mms://e.com/a", MMSHPort: 65536},
		{Name: "x", URL: "mmsh://e.com/a", MMSHPort: 8080}, {Name: "x", URL: "mmst://e.com/a", MMSHPort: 8080},
	} {
		if _, err := Normalize(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("news", "mms://example.com/live", "auto")
	f.Add("a", "mmsh://u:p@[::1]:80/x?y#z", "http")
	f.Add("b", "mms://%zz/", "")
	f.Fuzz(func(t *testing.T, name, url, transport string) {
		c, err := Normalize(Channel{Name: name, URL: url, Transport: transport})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		// A normalized channel normalizes to itself.
		c2, err := Normalize(c)
		if err != nil || c2.URL != c.URL || c2.Transport != c.Transport {
			t.Fatalf("not idempotent: %+v -> %+v (%v)", c, c2, err)
		}
	})
}
