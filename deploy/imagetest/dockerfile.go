// Package imagetest builds and runs deploy/Dockerfile without a Docker
// engine, so that the image is tested on machines that have only the docker
// CLI: a small Dockerfile interpreter runs every instruction in a chroot of a
// debootstrapped Debian (the emulated base images), in private mount, PID and
// (for the container) network namespaces.
//
// The interpreter knows only the instructions that deploy/Dockerfile uses;
// any other instruction, flag or form is an error, so that a change to the
// Dockerfile cannot be skipped silently.
//
// What differs from docker build and docker run:
//   - The base images are emulated (see Bases): a debootstrapped bookworm
//     with the official images' settings, not the published images; the
//     golang image mounts this machine's Go, its module cache and a
//     build cache kept between runs (BuildKit cache mounts do the same).
//   - No layers, no layer cache, no image export: every instruction changes
//     the stage's root directory in place. Changes under a VOLUME path made
//     after VOLUME are kept (the classic builder drops them).
//   - RUN runs with every capability of root and no seccomp or AppArmor
//     profile (Docker drops some capabilities); non-root users have none
//     either way. No cgroup limits.
//   - RUN uses the host's network, as docker build's default does; the
//     container gets a network namespace with only loopback, its published
//     port forwarded from a host loopback port into the namespace's
//     127.0.0.1 (docker-proxy forwards to the container's bridge address);
//     no outbound network. /etc/resolv.conf is the host's; /etc/hosts is the
//     image's. The golang stage's RUN steps also see the host's CA bundle
//     (SSL_CERT_FILE, mounted outside the image's files): our egress proxy
//     re-signs TLS, so go mod download needs it.
//   - COPY gives uid and gid 0 and keeps modes, not times; .dockerignore
//     without character classes; no --chown, --chmod, --link, ADD, ARG,
//     HEALTHCHECK, SHELL, LABEL, parser directives.
package imagetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Instruction is one Dockerfile instruction after line continuations are
// joined.
type Instruction struct {
	Line  int               // first line, 1-based
	Cmd   string            // upper case: RUN, COPY, ...
	Flags map[string]string // --from=build: "from" -> "build"
	Args  string            // the rest of the line, trimmed
}

// Stage is one FROM and the instructions up to the next FROM.
type Stage struct {
	Base         string // image reference or an earlier stage's name
	Name         string // AS name, "" if none
	Instructions []Instruction
}

// knownFlags are the flags each instruction may carry here.
var knownFlags = map[string][]string{
	"COPY": {"from"},
}

// knownCmds are the instructions the interpreter executes.
var knownCmds = map[string]bool{
	"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENV": true, "USER": true,
	"EXPOSE": true, "VOLUME": true, "STOPSIGNAL": true, "ENTRYPOINT": true, "CMD": true,
}

// Parse reads a Dockerfile into its stages. Comments and blank lines are
// dropped, "\" at the end of a line continues it (comment lines inside a
// continued instruction are dropped as Docker does). Parser directives
// (# syntax=, # escape=) are refused: they change how the rest is read.
func Parse(r io.Reader) ([]Stage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		stages  []Stage
		cur     strings.Builder
		start   int
		lineNo  int
		inInstr bool
	)
	flush := func() error {
		if !inInstr {
			return nil
		}
		inInstr = false
		in, err := parseInstruction(start, cur.String())
		cur.Reset()
		if err != nil {
			return err
		}
		if in.Cmd == "FROM" {
			st, err := parseFrom(in)
			if err != nil {
				return err
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			return fmt.Errorf("line %d: %s before FROM", in.Line, in.Cmd)
		}
		s := &stages[len(stages)-1]
		s.Instructions = append(s.Instructions, in)
		return nil
	}
	seenInstr := false
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "#") {
			if !seenInstr && !inInstr {
				d := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(trim, "#")))
				if strings.HasPrefix(d, "syntax=") || strings.HasPrefix(d, "escape=") || strings.HasPrefix(d, "check=") {
					return nil, fmt.Errorf("line %d: parser directive %q is not supported", lineNo, trim)
				}
			}
			continue
		}
		if trim == "" && !inInstr {
			continue
		}
		if !inInstr {
			inInstr, start = true, lineNo
			seenInstr = true
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSuffix(trim, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trim)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	if inInstr {
		return nil, fmt.Errorf("line %d: instruction continues past the end of the file", start)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

func parseInstruction(line int, text string) (Instruction, error) {
	cmd, rest, _ := strings.Cut(text, " ")
	in := Instruction{Line: line, Cmd: strings.ToUpper(cmd), Flags: map[string]string{}}
	if !knownCmds[in.Cmd] {
		return in, fmt.Errorf("line %d: instruction %s is not supported by the interpreter", line, cmd)
	}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
		k, v, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if !ok || !contains(knownFlags[in.Cmd], k) {
			return in, fmt.Errorf("line %d: %s flag %s is not supported", line, in.Cmd, f)
		}
		in.Flags[k] = v
	}
	if rest == "" {
		return in, fmt.Errorf("line %d: %s without arguments", line, in.Cmd)
	}
	in.Args = rest
	return in, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseFrom(in Instruction) (Stage, error) {
	f := strings.Fields(in.Args)
	switch {
	case len(f) == 1:
		return Stage{Base: f[0]}, nil
	case len(f) == 3 && strings.EqualFold(f[1], "AS"):
		return Stage{Base: f[0], Name: strings.ToLower(f[2])}, nil
	}
	return Stage{}, fmt.Errorf("line %d: FROM %q: want IMAGE [AS NAME]", in.Line, in.Args)
}

// execForm reads a JSON array ("exec form"); ok is false for the shell form.
func execForm(args string) (argv []string, ok bool, err error) {
	if !strings.HasPrefix(args, "[") {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		// Docker treats a malformed JSON array as shell form; that is
		// almost always a mistake, so refuse it.
		return nil, true, fmt.Errorf("malformed exec form %s: %w", args, err)
	}
	if len(argv) == 0 {
		return nil, true, fmt.Errorf("empty exec form")
	}
	return argv, true, nil
}

// commandArgs is ENTRYPOINT, CMD and RUN: the exec form as is, the shell
// form wrapped in /bin/sh -c as Docker does.
func commandArgs(args string) ([]string, error) {
	argv, ok, err := execForm(args)
	if err != nil {
		return nil, err
	}
	if ok {
		return argv, nil
	}
	return []string{"/bin/sh", "-c", args}, nil
}

// envPairs reads ENV's arguments: k=v pairs, with double or single quotes
// and backslash escapes, or the legacy "ENV key value" form.
func envPairs(args string) ([][2]string, error) {
	words, err := splitWords(args)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		// Legacy form: the first word is the key, the rest of the line
		// (unsplit) the value.
		k, v, _ := strings.Cut(strings.TrimSpace(args), " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("ENV %q: want key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on unquoted blanks, removing quotes and backslashes.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		has   bool
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && quote != '\'' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			has = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, has = c, true
		case quote == 0 && (c == ' ' || c == '\t'):
			if has {
				words = append(words, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(c)
			has = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if has {
		words = append(words, cur.String())
	}
	return words, nil
}

// expand substitutes $VAR and ${VAR} from env, as Docker does in ENV,
// WORKDIR, COPY, USER, EXPOSE, VOLUME and STOPSIGNAL. The ${VAR:-x} forms
// are refused rather than half implemented.
func expand(s string, env []string) (string, error) {
	if strings.Contains(s, "${") {
		for _, part := range strings.Split(s, "${")[1:] {
			name, _, _ := strings.Cut(part, "}")
			if strings.ContainsAny(name, ":-+?") {
				return "", fmt.Errorf("variable form ${%s} is not supported", name)
			}
		}
	}
	return os.Expand(s, func(k string) string {
		v, _ := lookup(env, k) // unset is empty, as in Docker
		return v
	}), nil
}

func lookup(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if ek, v, _ := strings.Cut(env[i], "="); ek == k {
			return v, true
		}
	}
	return "", false
}

// setEnv replaces or appends k=v.
func setEnv(env []string, k, v string) []string {
	out := env[:0:0]
	for _, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek != k {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}
