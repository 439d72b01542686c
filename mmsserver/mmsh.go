package mmsserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mmsgate/mmsgate/mmsh"
)

// HTTPHandler returns an http.Handler that serves the server's content
// over MMSH (MS-WMSP, Windows Media HTTP Streaming) with mmsh.Handler: the
// same files below Dir, the same live broadcasts (an MMSH viewer subscribes
// to the broadcaster MMS viewers use, so both see one broadcast), the same
// playlists, Auth, Redirects (as HTTP redirects), Rate, Unpaced and
// FastStart. It starts the live broadcasts if Serve has not; Shutdown ends
// every MMSH play as well.
func (s *Server) HTTPHandler() http.Handler {
	s.mu.Lock()
	s.init()
	s.startLocked()
	s.mu.Unlock()
	h := &mmsh.Handler{
		Lookup:       s.mmshSource,
		Rate:         s.rate(),
		Unpaced:      s.Unpaced,
		FastStart:    s.mmshFastStart(),
		WriteTimeout: s.WriteTimeout,
		MaxSessions:  s.MaxConns,
		OnLog:        s.mmshLog,
		Logger:       s.logger(),
	}
	if s.Auth != nil {
		h.Auth = s.Auth.server()
	}
	return &httpFront{s: s, h: h}
}

// mmshLog keeps the log of an MMSH client's Log request (MS-WMSP 2.2.2.4)
// with the MMS clients' logs, as onLogging does for LinkViewerToMacLogging.
func (s *Server) mmshLog(l mmsh.ClientLog) {
	s.logger().Info("client log", "path", l.Path, "protocol", l.Log.Proto, "transport", l.Log.Transport,
		"played_ms", l.Log.Info.Played, "packets", l.Log.Info.PacketsReceived, "lost", l.Log.PacketsLostNet)
	s.OnEvent.Emit("client_log", "client reported statistics", map[string]any{
		"path": l.Path, "protocol": l.Log.Proto, "transport": l.Log.Transport, "remote": l.Remote,
		"packets_received": l.Log.Info.PacketsReceived, "packets_lost": l.Log.PacketsLostNet,
		"resend_requests": l.Log.ResendRequests,
	})
	s.addClientLog(ClientLog{Time: l.Time, Remote: l.Remote, Path: l.Path, Log: l.Log})
}

// mmshFastStart converts FastStart, media time, into mmsh's wall-clock
// lead; zero (no burst) becomes the smallest lead, as mmsh's zero means
// its default.
func (s *Server) mmshFastStart() time.Duration {
	return max(time.Duration(float64(s.FastStart)/s.rate()), time.Nanosecond)
}

// httpFront answers Redirects before mmsh.Handler and ties every request
// to the server's lifetime.
type httpFront struct {
	s *Server
	h *mmsh.Handler
}

func (f *httpFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := cleanName(r.URL.Path)
	if to, ok := f.s.Redirects[name]; ok {
		loc := f.s.httpLocation(to, r)
		f.s.logger().Info("mmsh redirect", "path", name, "to", loc)
		f.s.OnEvent.Emit("redirect", "client redirected", map[string]any{"path": name, "url": loc, "transport": "http"})
		http.Redirect(w, r, loc, http.StatusFound)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(f.s.ctx, cancel) // Shutdown ends plays
	defer stop()
	if r.Method != http.MethodGet || !mmsh.IsPlayRequest(r) {
		f.h.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	// A Play request is an MMS session's equivalent: it gets the same
	// play and session_end events, with transport "http".
	fields := map[string]any{"path": name, "remote": r.RemoteAddr, "transport": "http"}
	f.s.OnEvent.Emit("play", "MMSH play requested", fields)
	sw := &statusWriter{ResponseWriter: w}
	f.h.ServeHTTP(sw, r.WithContext(ctx))
	f.s.OnEvent.Emit("session_end", "MMSH play ended", map[string]any{"path": name, "remote": r.RemoteAddr,
		"transport": "http", "status": sw.status})
}

// statusWriter records the response status; Unwrap keeps
// http.ResponseController (flushes, write deadlines) working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpLocation turns a redirect target into a URL an HTTP client follows.
// mms:// targets become http://: MMSH listens on port 80 of an MMS host
// (the rollover convention), except for targets on this server's own MMS
// listeners, which are served by this handler at the request's Host.
func (s *Server) httpLocation(to string, r *http.Request) string {
	u, err := url.Parse(to)
	if err != nil || u.Scheme == "" {
		return to // relative: http.Redirect resolves it
	}
	switch strings.ToLower(u.Scheme) {
	case "mmsh":
		u.Scheme = "http"
	case "mms", "mmst", "mmsu":
		u.Scheme = "http"
		if s.ownAddr(u.Host) {
			u.Host = r.Host
		} else {
			u.Host = u.Hostname()
			if strings.Contains(u.Host, ":") {
				u.Host = "[" + u.Host + "]"
			}
		}
	}
	return u.String()
}

func (s *Server) ownAddr(hostport string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.lns {
		if a := ln.Addr().String(); a == hostport {
			return true
		}
		if ta, ok := ln.Addr().(*net.TCPAddr); ok && net.JoinHostPort("localhost", fmt.Sprint(ta.Port)) == hostport {
			return true
		}
	}
	return false
}

// mmshSource maps a request to the content MMS clients get for the same
// path (resolve).
func (s *Server) mmshSource(r *http.Request) (mmsh.Source, error) {
	c, err := s.resolve(r.URL.Path)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("mmsserver: %s: %w", r.URL.Path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.live != nil:
		return liveSource(c.live), nil
	case c.isList:
		pl := make(mmsh.Playlist, len(c.files))
		for i, p := range c.files {
			pl[i] = fileSource(p)
		}
		return pl, nil
	}
	return fileSource(c.files[0]), nil
}

// fileSource is an ASF file opened for each Describe and Play, and closed
// when the play's cursor is closed.
type fileSource string

func (p fileSource) Describe(ctx context.Context) (mmsh.Entry, error) {
	f, err := mmsh.OpenFile(string(p))
	if err != nil {
		return mmsh.Entry{}, err
	}
	defer f.Close()
	return f.Describe(ctx)
}

func (p fileSource) Play(ctx context.Context, start time.Duration) (mmsh.Cursor, error) {
	f, err := mmsh.OpenFile(string(p))
	if err != nil {
		return nil, err
	}
	cur, err := f.Play(ctx, start)
	if err != nil {
		f.Close()
		return nil, err
	}
	return closingCursor{Cursor: cur, f: f}, nil
}

type closingCursor struct {
	mmsh.Cursor
	f *mmsh.File
}

func (c closingCursor) Close() error {
	err := c.Cursor.Close()
	return errors.Join(err, c.f.Close())
}

// liveSource adapts a broadcast to mmsh.Live: each viewer is one more
// subscriber of the broadcast MMS sessions subscribe to, with the same
// header (marked broadcast), LocationIds and packets.
func liveSource(b *broadcast) *mmsh.Live {
	return &mmsh.Live{
		Header: func() []byte { return b.header },
		Subscribe: func(ctx context.Context) (<-chan mmsh.LivePacket, func()) {
			sub := b.subscribe()
			out := make(chan mmsh.LivePacket)
			ctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer close(out)
				for {
					select {
					case <-ctx.Done():
						return
					case p, ok := <-sub.ch:
						if !ok { // broadcast over, or this viewer too slow
							return
						}
						select {
						case out <- mmsh.LivePacket{Location: p.loc, Data: p.data}:
						case <-ctx.Done():
							return
						}
					}
				}
			}()
			return out, func() {
				cancel()
				b.unsubscribe(sub)
				<-done
			}
		},
	}
}
