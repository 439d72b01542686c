package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
)

// PostgresTestURL returns the URL of a fresh, empty schema in the PostgreSQL
// named by MMSGATE_TEST_POSTGRES_URL, dropped when t ends. It skips t with
// the reason when the variable is unset, and fails t when it is set but the
// server does not answer.
func PostgresTestURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MMSGATE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("MMSGATE_TEST_POSTGRES_URL is not set (CI sets it after starting PostgreSQL; locally: " +
			"pg_ctlcluster 15 main start and export MMSGATE_TEST_POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "mmsgate_test_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("postgres at MMSGATE_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
