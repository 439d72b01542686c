//go:build tools

// Package deps pins the libraries the project chose before every package
// imports them, so that helpers working in parallel never race on go.mod.
package deps

import (
	_ "github.com/Azure/go-ntlmssp"
	_ "github.com/bluenviron/gohlslib/v2"
	_ "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	_ "github.com/chromedp/chromedp"
	_ "github.com/go-chi/chi/v5"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite"
)
