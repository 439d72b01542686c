package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/mmsgate/mmsgate/event"
)

// minSecretLen is the shortest password that is redacted: shorter ones would
// blank out ordinary words of every log line.
const minSecretLen = 3

// Redactor holds the channel passwords and replaces every spelling of them
// (plain, URL-escaped, UTF-16LE as MMS carries strings, base64 as Basic auth
// carries them) with "[redacted]" in events and log records.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string][]string // channel -> spellings
	all     []string
}

// NewRedactor returns an empty Redactor.
func NewRedactor() *Redactor { return &Redactor{secrets: map[string][]string{}} }

func utf16le(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, v := range u {
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	return string(b)
}

// Spellings returns the encodings of a password that must never appear.
func Spellings(username, password string) []string {
	if len(password) < minSecretLen {
		return nil
	}
	enc := base64.StdEncoding
	out := []string{
		password,
		url.QueryEscape(password),
		url.PathEscape(password),
		utf16le(password),
		enc.EncodeToString([]byte(password)),
		enc.EncodeToString([]byte(username + ":" + password)),
		enc.EncodeToString([]byte(utf16le(password))),
		base64.RawStdEncoding.EncodeToString([]byte(password)),
		fmt.Sprintf("%q", password)[1 : len(fmt.Sprintf("%q", password))-1],
	}
	return out
}

// Set records the password of a channel (an empty one removes it).
func (r *Redactor) Set(channel, username, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if password == "" {
		delete(r.secrets, channel)
	} else {
		r.secrets[channel] = Spellings(username, password)
	}
	r.all = r.all[:0:0]
	for _, s := range r.secrets {
		r.all = append(r.all, s...)
	}
}

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.all {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func (r *Redactor) value(v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case []byte:
		return r.String(string(x))
	case error:
		return r.String(x.Error())
	case fmt.Stringer:
		return r.String(x.String())
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = r.String(s)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = r.value(v)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = r.value(v)
		}
		return out
	default:
		return v
	}
}

// Event returns e with its message and fields redacted.
func (r *Redactor) Event(e event.Event) event.Event {
	e.Message = r.String(e.Message)
	if e.Fields != nil {
		e.Fields = r.value(e.Fields).(map[string]any)
	}
	return e
}

// Handler wraps h so that every record's message and attributes are
// redacted before h sees them.
func (r *Redactor) Handler(h slog.Handler) slog.Handler { return &redactHandler{h: h, r: r} }

type redactHandler struct {
	h slog.Handler
	r *Redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i, g := range as {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.Any(a.Key, h.r.value(v.Any()))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &redactHandler{h: h.h.WithAttrs(red), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: h.h.WithGroup(name), r: h.r}
}
