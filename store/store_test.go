package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// openStores returns a fresh SQLite store and, when MMSGATE_TEST_POSTGRES_URL
// is set, a fresh PostgreSQL store in a schema of its own.
func openStores(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"sqlite": func(t *testing.T) Store {
			dir := t.TempDir()
			s, err := OpenSQLite(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) Store {
			url := PostgresTestURL(t)
			s, err := OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func TestChannelsCRUD(t *testing.T) {
	for name, open := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			c := Channel{Name: "news", URL: "mms://example.com/news", Transport: "auto", Username: "u",
				Password: "p@ss", Outputs: []string{"hls", "asf"}, Transcode: "auto", OnDemand: true,
				MaxBandwidth: 300000, MMSHPort: 8080, Language: "en-US", CreatedAt: now, UpdatedAt: now}
			if err := s.CreateChannel(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateChannel(ctx, c); !errors.Is(err, ErrConflict) {
				t.Fatalf("duplicate: %v, want ErrConflict", err)
			}
			got, err := s.GetChannel(ctx, "news")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("got %+v\nwant %+v", got, c)
			}
			c.URL, c.OnDemand, c.Outputs, c.UpdatedAt = "mmst://example.com/other", false, []string{"llhls"}, now.Add(time.Second)
			c.MMSHPort = 0
			if err := s.UpdateChannel(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := s.SetLastTransport(ctx, "news", "tcp"); err != nil {
				t.Fatal(err)
			}
			c.LastTransport = "tcp"
			if err := s.SetRun(ctx, "news", RunStopped); err != nil {
				t.Fatal(err)
			}
			c.Run = RunStopped
			// An update of the configuration keeps what start/stop asked.
			if err := s.UpdateChannel(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := s.SetRun(ctx, "nope", RunStarted); !errors.Is(err, ErrNotFound) {
				t.Fatalf("set run of a missing channel: %v", err)
			}
			list, err := s.ListChannels(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || !reflect.DeepEqual(list[0], c) {
				t.Fatalf("list %+v", list)
			}
			if err := s.UpdateChannel(ctx, Channel{Name: "nope"}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("update missing: %v", err)
			}
			if _, err := s.GetChannel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get missing: %v", err)
			}
			if err := s.DeleteChannel(ctx, "news"); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteChannel(ctx, "news"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete twice: %v", err)
			}
		})
	}
}

func TestSessionsAndLogs(t *testing.T) {
	for name, open := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			start := time.Now().UTC().Truncate(time.Microsecond)
			var ids []int64
			for i := 0; i < 5; i++ {
				id, err := s.CreateSession(ctx, Session{Channel: "c", StartedAt: start, Outcome: "running"})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			last := ids[len(ids)-1]
			sess := Session{ID: last, Channel: "c", StartedAt: start, EndedAt: start.Add(time.Minute),
				Transport: "udp", Outcome: "failed", Reason: "upstream gone",
				Stats: map[string]any{"packets_received": float64(1200), "loss": float64(3)}}
			if err := s.UpdateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetSession(ctx, last)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sess) {
				t.Fatalf("got %+v\nwant %+v", got, sess)
			}
			var entries []LogEntry
			for i := 1; i <= 30; i++ {
				entries = append(entries, LogEntry{Seq: int64(i), Event: event.Event{Time: start.Add(time.Duration(i)),
					Kind: event.Loss, Message: fmt.Sprintf("lost %d", i), Fields: map[string]any{"count": float64(i)}}})
			}
			if err := s.AppendLog(ctx, last, entries); err != nil {
				t.Fatal(err)
			}
			page, err := s.SessionLog(ctx, last, 10, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 5 || page[0].Seq != 11 || page[4].Message != "lost 15" || page[0].Fields["count"] != float64(11) ||
				!page[0].Time.Equal(start.Add(11)) {
				t.Fatalf("page %+v", page)
			}
			list, total, err := s.ListSessions(ctx, "c", 2, 0)
			if err != nil {
				t.Fatal(err)
			}
			if total != 5 || len(list) != 2 || list[0].ID != last {
				t.Fatalf("list %d %+v", total, list)
			}
			if err := s.Prune(ctx, "c", 2); err != nil {
				t.Fatal(err)
			}
			if _, total, _ = s.ListSessions(ctx, "c", 10, 0); total != 2 {
				t.Fatalf("after prune %d sessions", total)
			}
			if _, err := s.GetSession(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("pruned session: %v", err)
			}
			if _, err := s.GetSession(ctx, last); err != nil {
				t.Fatalf("kept session: %v", err)
			}
		})
	}
}

// TestReopen checks that migrations run once and data survives a reopen.
func TestReopenSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateChannel(ctx, Channel{Name: "a", URL: "mms://x/y", Outputs: []string{"hls"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetChannel(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("migrations %d %v", n, err)
	}
}
