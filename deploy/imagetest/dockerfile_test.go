package imagetest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDeployDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "build" || !strings.HasPrefix(stages[0].Base, "golang:") {
		t.Fatalf("stages %+v: want a golang build stage and a final stage", stages)
	}
	var cmds []string
	for _, in := range stages[1].Instructions {
		cmds = append(cmds, in.Cmd)
	}
	if cmds[len(cmds)-1] != "ENTRYPOINT" {
		t.Fatalf("final stage %v: want ENTRYPOINT last", cmds)
	}
}

func TestParse(t *testing.T) {
	src := `# comment
from golang:1.26-bookworm AS Build
RUN a \
 # a comment inside a continuation is dropped
 && b
COPY --from=build /x /y
FROM debian:bookworm-slim
ENV A=1 B="two words" C=a\ b
ENV LEGACY value with spaces
ENTRYPOINT ["/bin/x", "-y"]
`
	stages, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "build" || stages[0].Base != "golang:1.26-bookworm" {
		t.Fatalf("stages %+v", stages)
	}
	run := stages[0].Instructions[0]
	if run.Cmd != "RUN" || run.Args != "a  && b" || run.Line != 3 {
		t.Fatalf("RUN %+v", run)
	}
	if cp := stages[0].Instructions[1]; cp.Flags["from"] != "build" || cp.Args != "/x /y" {
		t.Fatalf("COPY %+v", cp)
	}
	env, err := envPairs(stages[1].Instructions[0].Args)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"A", "1"}, {"B", "two words"}, {"C", "a b"}}; !reflect.DeepEqual(env, want) {
		t.Fatalf("ENV %q, want %q", env, want)
	}
	if env, _ := envPairs(stages[1].Instructions[1].Args); env[0] != [2]string{"LEGACY", "value with spaces"} {
		t.Fatalf("legacy ENV %q", env)
	}
	argv, err := commandArgs(stages[1].Instructions[2].Args)
	if err != nil || !reflect.DeepEqual(argv, []string{"/bin/x", "-y"}) {
		t.Fatalf("ENTRYPOINT %q %v", argv, err)
	}
	if argv, _ := commandArgs("echo hi"); !reflect.DeepEqual(argv, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Fatalf("shell form %q", argv)
	}
}

// An instruction, flag or form the interpreter does not execute fails the
// parse: a new line in the Dockerfile cannot be skipped silently.
func TestParseRefusesUnknown(t *testing.T) {
	for _, src := range []string{
		"FROM a\nADD x /y\n",
		"FROM a\nARG V=1\n",
		"FROM a\nHEALTHCHECK CMD true\n",
		"FROM a\nLABEL a=b\n",
		"FROM a\nSHELL [\"/bin/bash\", \"-c\"]\n",
		"FROM a\nONBUILD RUN x\n",
		"FROM a\nCOPY --chown=1 x /y\n",
		"FROM a\nRUN --mount=type=cache,target=/x true\n",
		"FROM --platform=linux/arm64 a\n",
		"# syntax=docker/dockerfile:1\nFROM a\n",
		"RUN x\n",
		"FROM a AS\n",
		"FROM a\nRUN x \\\n",
		"FROM a\nENTRYPOINT [\"x\",\n",
	} {
		stages, err := Parse(strings.NewReader(src))
		if err == nil {
			// Forms that only the executor sees.
			for _, in := range stages[len(stages)-1].Instructions {
				if _, err = commandArgs(in.Args); err != nil {
					break
				}
			}
		}
		if err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

func TestExpand(t *testing.T) {
	env := []string{"A=1", "B=x"}
	if s, err := expand("$A/${B}", env); err != nil || s != "1/x" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := expand("${A:-2}", env); err == nil {
		t.Fatal("${A:-2}: no error")
	}
	if s, err := expand("x$C", env); err != nil || s != "x" {
		t.Fatalf("unset $C: %q %v, want empty as Docker", s, err)
	}
}

func TestDockerignore(t *testing.T) {
	ign, err := ParseIgnore(strings.NewReader("# c\n.git\n**/*.test\n/data\ndocs/*.md\n!docs/keep.md\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		".git": true, ".git/config": true, "remux.test": true, "a/b/c.test": true, "data/x.db": true,
		"app/data/x": false, "docs/a.md": true, "docs/keep.md": false, "docs/sub/a.md": false,
		"go.mod": false, "cmd/gateway/main.go": false,
	} {
		if got := ign.Excluded(path); got != want {
			t.Errorf("%s: excluded %v, want %v", path, got, want)
		}
	}
	if _, err := ParseIgnore(strings.NewReader("[ab]\n")); err == nil {
		t.Fatal("character class: no error")
	}
}

// The repository's .dockerignore leaves what go build needs and drops the
// rest of the working tree (test binaries, the data directory, .git).
func TestRepositoryDockerignore(t *testing.T) {
	f, err := os.Open("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ign, err := ParseIgnore(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/gateway/main.go", "web/static/index.html", "api/openapi.json"} {
		if ign.Excluded(p) {
			t.Errorf("%s is excluded from the build context", p)
		}
	}
	for _, p := range []string{".git/HEAD", "remux.test", "data/mmsgate.db", "remux/testdata/fuzz/FuzzX/1"} {
		if !ign.Excluded(p) {
			t.Errorf("%s is in the build context", p)
		}
	}
}

func TestResolveInStaysInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"bin": "usr/bin", "abs": "/etc", "up": "../../../.."} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for in, want := range map[string]string{
		"/bin/sh": "usr/bin/sh", "/abs/passwd": "etc/passwd", "/up/etc": "etc", "../../x": "x", "/": "",
	} {
		got, err := resolveIn(root, in)
		if err != nil {
			t.Fatal(err)
		}
		if got != filepath.Join(root, want) {
			t.Errorf("%s: %s, want %s", in, got, filepath.Join(root, want))
		}
	}
	if err := os.Symlink("loop", filepath.Join(root, "loop")); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveIn(root, "/loop/x"); err == nil {
		t.Fatal("symlink loop: no error")
	}
}

func TestLookupUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nsvc:x:10001:10001::/data:/usr/sbin/nologin\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nsvc:x:10001:\nvideo:x:44:svc\n"), 0o644)
	u, err := lookupUser(root, "svc")
	if err != nil || u.uid != 10001 || u.gid != 10001 || u.home != "/data" || !reflect.DeepEqual(u.groups, []int{10001, 44}) {
		t.Fatalf("svc: %+v %v", u, err)
	}
	if u, err := lookupUser(root, ""); err != nil || u.uid != 0 || u.home != "/root" {
		t.Fatalf("root: %+v %v", u, err)
	}
	if u, err := lookupUser(root, "123:44"); err != nil || u.uid != 123 || u.gid != 44 {
		t.Fatalf("123:44: %+v %v", u, err)
	}
	if _, err := lookupUser(root, "nobody"); err == nil {
		t.Fatal("unknown user: no error")
	}
}

// FuzzParse: any Dockerfile text gives stages or an error, never a panic;
// the shell and exec forms of what it returns read without panicking too.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../Dockerfile"); err == nil {
		f.Add(string(b))
	}
	f.Add("FROM a AS b\nRUN x \\\n # c\n y\nCOPY --from=b /x /y\nENV A=\"1 2\" B='3'\nENTRYPOINT [\"/x\"]\n")
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, st := range stages {
			for _, in := range st.Instructions {
				commandArgs(in.Args)
				envPairs(in.Args)
				expand(in.Args, []string{"A=1"})
			}
		}
	})
}

// FuzzParseIgnore: any .dockerignore gives rules or an error, and the
// rules answer for any path.
func FuzzParseIgnore(f *testing.F) {
	f.Add("**/*.test\n!keep.test\n/data\n", "a/b.test")
	f.Add("*\n", ".git/HEAD")
	f.Fuzz(func(t *testing.T, src, path string) {
		ign, err := ParseIgnore(strings.NewReader(src))
		if err == nil {
			ign.Excluded(path)
		}
	})
}
