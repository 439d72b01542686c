// Package store persists channels and session logs. One small interface,
// two implementations on database/sql: SQLite (modernc.org/sqlite, a file in
// the data directory, WAL mode) by default and PostgreSQL (pgx) when a
// database URL is configured. Both run versioned migrations at Open.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// Errors that callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Channel is a configured upstream as persisted. Password is stored because
// the gateway needs it to authenticate upstream; the API never returns it.
type Channel struct {
	Name         string
	URL          string
	Transport    string
	Username     string
	Password     string
	Outputs      []string
	Transcode    string
	OnDemand     bool
	MaxBandwidth int64
	// MMSHPort is the port of the MMSH rung of an mms:// URL's protocol
	// rollover; 0 means the gateway's default.
	MMSHPort      int
	Language      string
	LastTransport string // the transport that worked last; the client tries it first
	// Run is what the API's start/stop asked: "" (run as OnDemand says),
	// RunStarted or RunStopped. UpdateChannel leaves it alone (SetRun).
	Run       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Values of Channel.Run.
const (
	RunStarted = "started" // started by the API: runs whatever its viewers
	RunStopped = "stopped" // stopped by the API: does not run until started
)

// Session is one upstream session of a channel, from Dial to Close.
type Session struct {
	ID        int64
	Channel   string
	StartedAt time.Time
	EndedAt   time.Time // zero while running
	Transport string
	Outcome   string // "running", "ended", "failed"
	Reason    string
	Stats     map[string]any // the CLIENT_LOG figures
}

// LogEntry is one stored event of a session log; Seq orders entries within
// the session and lets a live reader continue where a stored read stopped.
type LogEntry struct {
	Seq int64
	event.Event
}

// Store is what the gateway persists. Implementations are safe for
// concurrent use.
type Store interface {
	ListChannels(ctx context.Context) ([]Channel, error)
	GetChannel(ctx context.Context, name string) (Channel, error)
	CreateChannel(ctx context.Context, c Channel) error // ErrConflict when the name exists
	UpdateChannel(ctx context.Context, c Channel) error // ErrNotFound when it does not
	DeleteChannel(ctx context.Context, name string) error
	SetLastTransport(ctx context.Context, name, transport string) error
	SetRun(ctx context.Context, name, run string) error // ErrNotFound when the channel does not exist

	CreateSession(ctx context.Context, s Session) (int64, error)
	UpdateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id int64) (Session, error)
	// ListSessions returns a channel's sessions, newest first, and their total.
	ListSessions(ctx context.Context, channel string, limit, offset int) ([]Session, int, error)
	AppendLog(ctx context.Context, session int64, entries []LogEntry) error
	// SessionLog returns entries with Seq > after, oldest first, at most limit.
	SessionLog(ctx context.Context, session int64, after int64, limit int) ([]LogEntry, error)
	// Prune keeps the newest keep sessions of a channel and deletes the rest
	// with their logs.
	Prune(ctx context.Context, channel string, keep int) error

	Ping(ctx context.Context) error
	Close() error
}
