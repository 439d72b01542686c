package asx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of FetchOptions.
const (
	DefaultMaxSize  = 1 << 20
	DefaultTimeout  = 10 * time.Second
	DefaultMaxDepth = 4
)

// FetchOptions bound a fetch. The zero value uses the defaults.
type FetchOptions struct {
	// MaxSize caps the metafile (default 1 MiB): a bigger body is an error.
	MaxSize int64
	// Timeout bounds each fetch, body included (default 10 s).
	Timeout time.Duration
	// MaxDepth bounds ENTRYREF nesting (default 4).
	MaxDepth int
	// MaxRedirects limits HTTP redirects per fetch (default 5; negative: none).
	MaxRedirects int
	// AllowHost vetoes the host of every URL fetched, redirects included
	// (the gateway's allow-list).
	AllowHost func(host string) error
	// DialContext dials TCP connections; nil uses a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// UserAgent; default "mmsgate".
	UserAgent string
}

func (o *FetchOptions) setDefaults() {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	if o.UserAgent == "" {
		o.UserAgent = "mmsgate"
	}
	if o.DialContext == nil {
		d := &net.Dialer{Timeout: o.Timeout}
		o.DialContext = d.DialContext
	}
}

// ErrTooLarge: the metafile exceeds MaxSize.
var ErrTooLarge = errors.New("asx: metafile too large")

// ErrHostRefused wraps an AllowHost veto.
var ErrHostRefused = errors.New("asx: host refused")

// IsMetafileURL reports whether the URL's path names a metafile by its
// extension (.asx, .wax, .wvx, .wmx).
func IsMetafileURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	p := strings.ToLower(u.Path)
	for _, ext := range []string{".asx", ".wax", ".wvx", ".wmx"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// Fetch gets the metafile at an http(s) URL and parses it; ENTRYREFs are
// fetched in turn (up to MaxDepth, each through AllowHost) and replaced by
// the entries they name. A body that is not a metafile gives
// ErrNotMetafile after reading at most its first 512 bytes, so that a
// media stream at the URL is not downloaded.
func Fetch(ctx context.Context, rawURL string, opts FetchOptions) (*Metafile, error) {
	opts.setDefaults()
	client := newClient(opts)
	defer client.CloseIdleConnections()
	return fetch(ctx, client, rawURL, opts, 0, map[string]bool{})
}

func newClient(opts FetchOptions) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:            opts.DialContext,
			ResponseHeaderTimeout:  opts.Timeout,
			TLSHandshakeTimeout:    opts.Timeout,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if opts.MaxRedirects < 0 || len(via) > opts.MaxRedirects {
				return fmt.Errorf("asx: more than %d redirects", max(opts.MaxRedirects, 0))
			}
			return allow(opts, req.URL)
		},
	}
}

func allow(opts FetchOptions, u *url.URL) error {
	if opts.AllowHost != nil {
		if err := opts.AllowHost(u.Hostname()); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrHostRefused, u.Hostname(), err)
		}
	}
	return nil
}

func fetch(ctx context.Context, client *http.Client, rawURL string, opts FetchOptions, depth int, seen map[string]bool) (*Metafile, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("asx: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("asx: cannot fetch %s URLs", u.Scheme)
	}
	if err := allow(opts, u); err != nil {
		return nil, err
	}
	seen[u.String()] = true
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("asx: %w", err)
	}
	req.Header.Set("User-Agent", opts.UserAgent)
	req.Header.Set("Accept", "video/x-ms-asf, audio/x-ms-wax, video/x-ms-wvx, */*")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asx: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("asx: %s: %s", u, resp.Status)
	}
	if resp.ContentLength > opts.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, resp.ContentLength, opts.MaxSize)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("asx: reading %s: %w", u, err)
	}
	if !Sniff(head[:n]) {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNotMetafile, u, resp.Header.Get("Content-Type"))
	}
	rest, err := io.ReadAll(io.LimitReader(resp.Body, opts.MaxSize-int64(n)+1))
	if err != nil {
		return nil, fmt.Errorf("asx: reading %s: %w", u, err)
	}
	body := append(head[:n], rest...)
	if int64(len(body)) > opts.MaxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, opts.MaxSize)
	}
	m, err := Parse(body, resp.Request.URL)
	if err != nil {
		return nil, err
	}
	// Splice ENTRYREFs in place (ASX 3.0: the referenced metafile's
	// entries play at that point).
	var out []Entry
	for _, e := range m.Entries {
		if e.EntryRef == "" {
			out = append(out, e)
			continue
		}
		if depth+1 >= opts.MaxDepth || seen[e.EntryRef] {
			continue // too deep or a loop: the entry is skipped
		}
		sub, err := fetch(ctx, client, e.EntryRef, opts, depth+1, seen)
		if err != nil {
			continue // a dead ENTRYREF is one dead entry, not a dead metafile
		}
		for _, se := range sub.Entries {
			if len(out) < MaxEntries {
				out = append(out, se)
			}
		}
	}
	m.Entries = out
	return m, nil
}

// Result is what a caller needs from a metafile: the stream URLs to try in
// order, and the metadata to show.
type Result struct {
	URLs   []string
	Title  string
	Author string
}

// Resolve fetches a metafile and returns its stream URLs in order (every
// entry's REFs in fallback order, duplicates removed, metafile links
// among them resolved in turn) with its title and author.
func Resolve(ctx context.Context, rawURL string, opts FetchOptions) (*Result, error) {
	m, err := Fetch(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Title: m.DisplayTitle(), Author: m.DisplayAuthor()}
	opts.setDefaults()
	seen := map[string]bool{rawURL: true}
	for _, u := range m.URLs() {
		// A REF to another metafile (common: .asx pointing to .asx) is
		// expanded once, in place.
		if IsMetafileURL(u) && !seen[u] && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			seen[u] = true
			if sub, err := Fetch(ctx, u, FetchOptions{MaxSize: opts.MaxSize, Timeout: opts.Timeout, MaxDepth: 1,
				MaxRedirects: opts.MaxRedirects, AllowHost: opts.AllowHost, DialContext: opts.DialContext, UserAgent: opts.UserAgent}); err == nil {
				res.URLs = append(res.URLs, sub.URLs()...)
				if res.Title == "" {
					res.Title = sub.DisplayTitle()
				}
				continue
			}
		}
		res.URLs = append(res.URLs, u)
	}
	if len(res.URLs) == 0 {
		return nil, fmt.Errorf("asx: %s names no streams", rawURL)
	}
	return res, nil
}
