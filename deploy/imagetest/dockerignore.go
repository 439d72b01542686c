package imagetest

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// ignoreRule is one line of a .dockerignore file.
type ignoreRule struct {
	re     *regexp.Regexp
	except bool // "!pattern": include again
}

// Ignore is a parsed .dockerignore: the build context minus what it names.
type Ignore []ignoreRule

// ParseIgnore reads .dockerignore as Docker does: one pattern a line, "#"
// comments, a leading "/" dropped, "*" and "?" within a path element, "**"
// across elements, "!" for exceptions; the last matching line decides.
// Character classes ([...]) are refused rather than half implemented.
func ParseIgnore(r io.Reader) (Ignore, error) {
	var rules Ignore
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var rule ignoreRule
		if strings.HasPrefix(line, "!") {
			rule.except = true
			line = strings.TrimSpace(line[1:])
		}
		if strings.ContainsAny(line, "[]\\") {
			return nil, fmt.Errorf(".dockerignore: pattern %q: character classes and escapes are not supported", line)
		}
		p := strings.TrimPrefix(path.Clean("/"+line), "/")
		if p == "" {
			continue
		}
		re, err := regexp.Compile("^" + patternRegexp(p) + "$")
		if err != nil {
			return nil, fmt.Errorf(".dockerignore: pattern %q: %w", line, err)
		}
		rule.re = re
		rules = append(rules, rule)
	}
	return rules, sc.Err()
}

func patternRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// Excluded reports whether rel (slash-separated, relative to the context)
// stays out of the context: the last rule that matches rel or one of its
// parent directories decides.
func (ig Ignore) Excluded(rel string) bool {
	excluded := false
	for _, r := range ig {
		if r.matches(rel) {
			excluded = !r.except
		}
	}
	return excluded
}

func (r ignoreRule) matches(rel string) bool {
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if r.re.MatchString(p) {
			return true
		}
	}
	return false
}
