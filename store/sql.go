package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/mmsgate/mmsgate/event"
)

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// DB is the database/sql implementation of Store for both dialects.
type DB struct {
	db      *sql.DB
	dialect dialect
}

var _ Store = (*DB)(nil)

// OpenSQLite opens (creating it when missing) the SQLite database
// mmsgate.db in dir, in WAL mode, and migrates it.
func OpenSQLite(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	path := filepath.Join(dir, "mmsgate.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One writer at a time is what SQLite does anyway; one connection
	// avoids SQLITE_BUSY between our own connections.
	db.SetMaxOpenConns(1)
	return open(ctx, db, sqlite)
}

// OpenPostgres connects to the PostgreSQL database at url and migrates it.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db.SetMaxOpenConns(8)
	return open(ctx, db, postgres)
}

// Open chooses PostgreSQL when url is set and SQLite in dir otherwise.
func Open(ctx context.Context, dir, url string) (*DB, error) {
	if url != "" {
		return OpenPostgres(ctx, url)
	}
	return OpenSQLite(ctx, dir)
}

func open(ctx context.Context, db *sql.DB, d dialect) (*DB, error) {
	s := &DB{db: db, dialect: d}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect names the database: "sqlite" or "postgres".
func (s *DB) Dialect() string {
	if s.dialect == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Ping checks that the database answers (readiness).
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q rewrites ? placeholders into $N for PostgreSQL.
func (s *DB) q(query string) string {
	if s.dialect != postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *DB) isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

const channelColumns = `name, url, transport, username, password, outputs, transcode, on_demand,
	max_bandwidth, language, last_transport, created_at, updated_at, run, mmsh_port`

type scanner interface{ Scan(dest ...any) error }

func scanChannel(r scanner) (Channel, error) {
	var c Channel
	var outputs string
	var onDemand int
	var created, updated int64
	err := r.Scan(&c.Name, &c.URL, &c.Transport, &c.Username, &c.Password, &outputs, &c.Transcode,
		&onDemand, &c.MaxBandwidth, &c.Language, &c.LastTransport, &created, &updated, &c.Run, &c.MMSHPort)
	if err != nil {
		return c, err
	}
	if outputs != "" {
		c.Outputs = strings.Split(outputs, ",")
	}
	c.OnDemand = onDemand != 0
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return c, nil
}

// ListChannels returns every channel ordered by name.
func (s *DB) ListChannels(ctx context.Context) ([]Channel, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+channelColumns+` FROM channels ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list channels: %w", err)
	}
	defer rows.Close()
	var out []Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list channels: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list channels: %w", err)
	}
	return out, nil
}

// GetChannel returns the channel called name or ErrNotFound.
func (s *DB) GetChannel(ctx context.Context, name string) (Channel, error) {
	c, err := scanChannel(s.db.QueryRowContext(ctx, s.q(`SELECT `+channelColumns+` FROM channels WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("store: channel %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("store: get channel: %w", err)
	}
	return c, nil
}

// CreateChannel inserts c; ErrConflict when its name is taken.
func (s *DB) CreateChannel(ctx context.Context, c Channel) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO channels (`+channelColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.Name, c.URL, c.Transport, c.Username, c.Password, strings.Join(c.Outputs, ","), c.Transcode,
		boolInt(c.OnDemand), c.MaxBandwidth, c.Language, c.LastTransport, nanos(c.CreatedAt), nanos(c.UpdatedAt), c.Run,
		c.MMSHPort)
	if err != nil {
		if s.isUniqueViolation(err) {
			return fmt.Errorf("store: channel %q: %w", c.Name, ErrConflict)
		}
		return fmt.Errorf("store: create channel: %w", err)
	}
	return nil
}

// UpdateChannel replaces every field of the channel named c.Name except
// CreatedAt.
func (s *DB) UpdateChannel(ctx context.Context, c Channel) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE channels SET url = ?, transport = ?, username = ?,
		password = ?, outputs = ?, transcode = ?, on_demand = ?, max_bandwidth = ?, language = ?,
		last_transport = ?, updated_at = ?, mmsh_port = ? WHERE name = ?`),
		c.URL, c.Transport, c.Username, c.Password, strings.Join(c.Outputs, ","), c.Transcode,
		boolInt(c.OnDemand), c.MaxBandwidth, c.Language, c.LastTransport, nanos(c.UpdatedAt), c.MMSHPort, c.Name)
	return s.affected(res, err, "update channel", c.Name)
}

func (s *DB) affected(res sql.Result, err error, what, name string) error {
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s %q: %w", what, name, ErrNotFound)
	}
	return nil
}

// DeleteChannel removes a channel with its sessions and logs.
func (s *DB) DeleteChannel(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete channel: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM session_log WHERE session_id IN
		(SELECT id FROM sessions WHERE channel = ?)`), name); err != nil {
		return fmt.Errorf("store: delete channel log: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE channel = ?`), name); err != nil {
		return fmt.Errorf("store: delete channel sessions: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM channels WHERE name = ?`), name)
	if err := s.affected(res, err, "delete channel", name); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete channel: %w", err)
	}
	return nil
}

// SetLastTransport records the transport that worked last for a channel.
func (s *DB) SetLastTransport(ctx context.Context, name, transport string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE channels SET last_transport = ? WHERE name = ?`), transport, name)
	return s.affected(res, err, "set last transport", name)
}

// SetRun records what start/stop asked for a channel (Channel.Run).
func (s *DB) SetRun(ctx context.Context, name, run string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE channels SET run = ? WHERE name = ?`), run, name)
	return s.affected(res, err, "set run", name)
}

func marshalStats(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// CreateSession inserts s and returns its id.
func (s *DB) CreateSession(ctx context.Context, sess Session) (int64, error) {
	stats, err := marshalStats(sess.Stats)
	if err != nil {
		return 0, fmt.Errorf("store: session stats: %w", err)
	}
	var id int64
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO sessions (channel, started_at, ended_at, transport,
		outcome, reason, stats) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		sess.Channel, nanos(sess.StartedAt), nanos(sess.EndedAt), sess.Transport, sess.Outcome, sess.Reason, stats).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: create session: %w", err)
	}
	return id, nil
}

// UpdateSession stores the mutable fields of a session (end, transport,
// outcome, reason, stats).
func (s *DB) UpdateSession(ctx context.Context, sess Session) error {
	stats, err := marshalStats(sess.Stats)
	if err != nil {
		return fmt.Errorf("store: session stats: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sessions SET ended_at = ?, transport = ?, outcome = ?,
		reason = ?, stats = ? WHERE id = ?`),
		nanos(sess.EndedAt), sess.Transport, sess.Outcome, sess.Reason, stats, sess.ID)
	return s.affected(res, err, "update session", strconv.FormatInt(sess.ID, 10))
}

const sessionColumns = `id, channel, started_at, ended_at, transport, outcome, reason, stats`

func scanSession(r scanner) (Session, error) {
	var sess Session
	var started, ended int64
	var stats string
	if err := r.Scan(&sess.ID, &sess.Channel, &started, &ended, &sess.Transport, &sess.Outcome, &sess.Reason, &stats); err != nil {
		return sess, err
	}
	sess.StartedAt, sess.EndedAt = fromNanos(started), fromNanos(ended)
	if stats != "" {
		if err := json.Unmarshal([]byte(stats), &sess.Stats); err != nil {
			return sess, fmt.Errorf("session %d stats: %w", sess.ID, err)
		}
	}
	return sess, nil
}

// GetSession returns one session or ErrNotFound.
func (s *DB) GetSession(ctx context.Context, id int64) (Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("store: session %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return sess, fmt.Errorf("store: get session: %w", err)
	}
	return sess, nil
}

// ListSessions returns a channel's sessions, newest first, and their total.
func (s *DB) ListSessions(ctx context.Context, channel string, limit, offset int) ([]Session, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM sessions WHERE channel = ?`), channel).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count sessions: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE channel = ?
		ORDER BY id DESC LIMIT ? OFFSET ?`), channel, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list sessions: %w", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list sessions: %w", err)
	}
	return out, total, nil
}

// AppendLog stores entries of a session log in one transaction.
func (s *DB) AppendLog(ctx context.Context, session int64, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: append log: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO session_log (session_id, seq, time, kind, message, fields)
		VALUES (?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("store: append log: %w", err)
	}
	defer stmt.Close()
	for _, e := range entries {
		fields, err := marshalStats(e.Fields)
		if err != nil {
			return fmt.Errorf("store: log fields: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, session, e.Seq, nanos(e.Time), string(e.Kind), e.Message, fields); err != nil {
			return fmt.Errorf("store: append log: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append log: %w", err)
	}
	return nil
}

// SessionLog returns entries with Seq > after, oldest first, at most limit.
func (s *DB) SessionLog(ctx context.Context, session int64, after int64, limit int) ([]LogEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, time, kind, message, fields FROM session_log
		WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`), session, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: session log: %w", err)
	}
	defer rows.Close()
	out := []LogEntry{}
	for rows.Next() {
		var e LogEntry
		var t int64
		var kind, fields string
		if err := rows.Scan(&e.Seq, &t, &kind, &e.Message, &fields); err != nil {
			return nil, fmt.Errorf("store: session log: %w", err)
		}
		e.Time, e.Kind = fromNanos(t), event.Kind(kind)
		if fields != "" {
			if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
				return nil, fmt.Errorf("store: session log fields: %w", err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: session log: %w", err)
	}
	return out, nil
}

// Prune keeps the newest keep sessions of a channel.
func (s *DB) Prune(ctx context.Context, channel string, keep int) error {
	var cutoff int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM sessions WHERE channel = ? ORDER BY id DESC LIMIT 1 OFFSET ?`),
		channel, keep).Scan(&cutoff)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: prune: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: prune: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM session_log WHERE session_id IN
		(SELECT id FROM sessions WHERE channel = ? AND id <= ?)`), channel, cutoff); err != nil {
		return fmt.Errorf("store: prune log: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE channel = ? AND id <= ?`), channel, cutoff); err != nil {
		return fmt.Errorf("store: prune sessions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: prune: %w", err)
	}
	return nil
}
