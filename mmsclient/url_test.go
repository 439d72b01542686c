package mmsclient

import "testing"

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, host, path, transport, user, pass string
	}{
		{"mms://example.com/live", "example.com:1755", "live", "", "", ""},
		{"mmst://u:p@127.0.0.1:8000/dir/a.wmv", "127.0.0.1:8000", "dir/a.wmv", "tcp", "u", "p"},
		{"MMSU://[::1]/x?y=1", "[::1]:1755", "x?y=1", "udp", "", ""},
	} {
		got, err := parseURL(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got.Host != tc.host || got.Path != tc.path || got.Transport != tc.transport || got.User != tc.user || got.Pass != tc.pass {
			t.Errorf("%s: %+v", tc.in, got)
		}
		if got.URL.User != nil {
			t.Errorf("%s: credentials kept in URL", tc.in)
		}
	}
	for _, bad := range []string{"http://x/y", "mms:///nohost", "::"} {
		if _, err := parseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolveRedirect(t *testing.T) {
	cur, _ := parseURL("mms://a.example:1000/one/two.asf")
	got, err := resolveRedirect(cur.URL, "three.asf")
	if err != nil || got.Host != "a.example:1000" || got.Path != "one/three.asf" {
		t.Fatalf("relative: %+v %v", got, err)
	}
	got, err = resolveRedirect(cur.URL, "mmst://b.example/x")
	if err != nil || got.Host != "b.example:1755" || got.Transport != "tcp" {
		t.Fatalf("absolute: %+v %v", got, err)
	}
	if _, err := resolveRedirect(cur.URL, "http://c/"); err == nil {
		t.Fatal("http redirect accepted")
	}
}
