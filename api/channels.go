package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mmsgate/mmsgate/gateway"
)

// maxBody bounds request bodies.
const maxBody = 64 << 10

// channelJSON is a channel as the API returns it. The password is never
// returned; has_password says whether one is stored. URL, username and
// last_transport are only shown to token holders.
type channelJSON struct {
	Name          string    `json:"name"`
	URL           string    `json:"url,omitempty"`
	Transport     string    `json:"transport"`
	Username      string    `json:"username,omitempty"`
	HasPassword   bool      `json:"has_password"`
	Outputs       []string  `json:"outputs"`
	Transcode     string    `json:"transcode"`
	OnDemand      bool      `json:"on_demand"`
	MaxBandwidth  int64     `json:"max_bandwidth"`
	MMSHPort      int       `json:"mmsh_port,omitempty"`
	Language      string    `json:"language"`
	LastTransport string    `json:"last_transport,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	State         string    `json:"state"`
	Reason        string    `json:"reason,omitempty"`
	Title         string    `json:"title,omitempty"`
	Author        string    `json:"author,omitempty"`
	NowPlaying    string    `json:"now_playing,omitempty"`
}

// channelInput is a channel as clients send it; nil fields are absent.
type channelInput struct {
	Name         *string   `json:"name"`
	URL          *string   `json:"url"`
	Transport    *string   `json:"transport"`
	Username     *string   `json:"username"`
	Password     *string   `json:"password"`
	Outputs      *[]string `json:"outputs"`
	Transcode    *string   `json:"transcode"`
	OnDemand     *bool     `json:"on_demand"`
	MaxBandwidth *int64    `json:"max_bandwidth"`
	MMSHPort     *int      `json:"mmsh_port"`
	Language     *string   `json:"language"`
}

func (a *API) channelView(c gateway.Channel, st gateway.Status, full bool) channelJSON {
	v := channelJSON{Name: c.Name, Transport: c.Transport, HasPassword: c.Password != "", Outputs: c.Outputs,
		Transcode: c.Transcode, OnDemand: c.OnDemand, MaxBandwidth: c.MaxBandwidth, Language: c.Language,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, State: string(st.State), Reason: st.Reason,
		Title: st.Metadata.Title, Author: st.Metadata.Author, NowPlaying: st.Metadata.NowPlaying}
	if v.Outputs == nil {
		v.Outputs = []string{}
	}
	if full {
		v.URL, v.Username, v.LastTransport, v.MMSHPort = c.URL, c.Username, c.LastTransport, c.MMSHPort
	} else {
		// Reasons can quote upstream addresses; they are for token holders.
		v.Reason = ""
	}
	return v
}

func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", gateway.ErrInvalid, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("%w: body larger than %d bytes", gateway.ErrInvalid, maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// json's messages quote the offending value only by type, never the
		// value itself, so a password in a malformed body is not echoed.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: body is not valid JSON (offset %d)", gateway.ErrInvalid, se.Offset)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: field %q must be %s", gateway.ErrInvalid, te.Field, te.Type)
		}
		return fmt.Errorf("%w: body: %s", gateway.ErrInvalid, safeJSONError(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: body has data after the JSON object", gateway.ErrInvalid)
	}
	return nil
}

// safeJSONError keeps the unknown-field message (it names a key, not a
// value) and replaces anything else.
func safeJSONError(err error) string {
	const unknown = "json: unknown field "
	if s := err.Error(); len(s) > len(unknown) && s[:len(unknown)] == unknown && len(s) < 100 {
		return "unknown field " + s[len(unknown):]
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return "cannot decode"
}

// apply copies the present fields of in onto c.
func (in channelInput) apply(c *gateway.Channel) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.URL, in.URL)
	set(&c.Transport, in.Transport)
	set(&c.Username, in.Username)
	set(&c.Password, in.Password)
	set(&c.Transcode, in.Transcode)
	set(&c.Language, in.Language)
	if in.Outputs != nil {
		c.Outputs = *in.Outputs
	}
	if in.OnDemand != nil {
		c.OnDemand = *in.OnDemand
	}
	if in.MaxBandwidth != nil {
		c.MaxBandwidth = *in.MaxBandwidth
	}
	if in.MMSHPort != nil {
		c.MMSHPort = *in.MMSHPort
	}
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) {
	if !a.publicRead(w, r) {
		return
	}
	limit, offset, err := page(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	full := a.authorized(r)
	chans := a.g.List()
	items := []channelJSON{}
	for i := offset; i < len(chans) && len(items) < limit; i++ {
		st, _ := a.g.Status(chans[i].Name)
		items = append(items, a.channelView(chans[i], st, full))
	}
	writeJSON(w, http.StatusOK, list{Items: items, Total: len(chans)})
}

func (a *API) createChannel(w http.ResponseWriter, r *http.Request) {
	var in channelInput
	if err := decode(r, &in); err != nil {
		a.fail(w, err)
		return
	}
	if in.Name == nil || in.URL == nil {
		a.fail(w, fmt.Errorf("%w: name and url are required", gateway.ErrInvalid))
		return
	}
	c := gateway.Channel{Name: *in.Name, OnDemand: true}
	in.apply(&c)
	c, err := a.g.Create(r.Context(), c)
	if err != nil {
		a.fail(w, err)
		return
	}
	st, _ := a.g.Status(c.Name)
	w.Header().Set("Location", "/api/v1/channels/"+c.Name)
	writeJSON(w, http.StatusCreated, a.channelView(c, st, true))
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request) {
	if !a.publicRead(w, r) {
		return
	}
	name := chi.URLParam(r, "name")
	c, err := a.g.Get(name)
	if err != nil {
		a.fail(w, err)
		return
	}
	st, _ := a.g.Status(name)
	writeJSON(w, http.StatusOK, a.channelView(c, st, a.authorized(r)))
}

// putChannel replaces a channel; absent fields take their defaults, except
// the password, which is kept when absent.
func (a *API) putChannel(w http.ResponseWriter, r *http.Request) {
	a.update(w, r, true)
}

// patchChannel changes the fields present.
func (a *API) patchChannel(w http.ResponseWriter, r *http.Request) {
	a.update(w, r, false)
}

func (a *API) update(w http.ResponseWriter, r *http.Request, replace bool) {
	name := chi.URLParam(r, "name")
	old, err := a.g.Get(name)
	if err != nil {
		a.fail(w, err)
		return
	}
	var in channelInput
	if err := decode(r, &in); err != nil {
		a.fail(w, err)
		return
	}
	if in.Name != nil && *in.Name != name {
		a.fail(w, fmt.Errorf("%w: a channel's name cannot change", gateway.ErrInvalid))
		return
	}
	c := old
	if replace {
		if in.URL == nil {
			a.fail(w, fmt.Errorf("%w: url is required", gateway.ErrInvalid))
			return
		}
		c = gateway.Channel{Name: name, Password: old.Password, OnDemand: true}
	}
	in.apply(&c)
	c, err = a.g.Update(r.Context(), c)
	if err != nil {
		a.fail(w, err)
		return
	}
	st, _ := a.g.Status(name)
	writeJSON(w, http.StatusOK, a.channelView(c, st, true))
}

func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request) {
	if err := a.g.Delete(r.Context(), chi.URLParam(r, "name")); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) startChannel(w http.ResponseWriter, r *http.Request) {
	a.startStop(w, r, a.g.Start)
}

func (a *API) stopChannel(w http.ResponseWriter, r *http.Request) {
	a.startStop(w, r, a.g.Stop)
}

func (a *API) startStop(w http.ResponseWriter, r *http.Request, f func(string) error) {
	name := chi.URLParam(r, "name")
	if err := f(name); err != nil {
		a.fail(w, err)
		return
	}
	st, err := a.g.Status(name)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, statusView(st, true))
}

// statusJSON is GET /channels/{name}/status.
type statusJSON struct {
	Name        string    `json:"name"`
	State       string    `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since"`
	OnDemand    bool      `json:"on_demand"`
	Stopped     bool      `json:"stopped"`
	Viewers     int       `json:"viewers"`
	Bitrate     int64     `json:"bitrate"`
	Transport   string    `json:"transport,omitempty"`
	Bandwidth   int64     `json:"bandwidth"`
	Title       string    `json:"title,omitempty"`
	Author      string    `json:"author,omitempty"`
	Copyright   string    `json:"copyright,omitempty"`
	Description string    `json:"description,omitempty"`
	NowPlaying  string    `json:"now_playing,omitempty"`
	LatencyMS   int64     `json:"latency_ms"`
	SessionID   int64     `json:"session_id,omitempty"`
}

func statusView(st gateway.Status, full bool) statusJSON {
	v := statusJSON{Name: st.Name, State: string(st.State), Reason: st.Reason, Since: st.Since.UTC(),
		OnDemand: st.OnDemand, Stopped: st.Stopped, Viewers: st.Viewers, Bitrate: st.Bitrate, Transport: st.Transport,
		Bandwidth: st.Bandwidth, Title: st.Metadata.Title, Author: st.Metadata.Author, Copyright: st.Metadata.Copyright,
		Description: st.Metadata.Description, NowPlaying: st.Metadata.NowPlaying, LatencyMS: st.Latency.Milliseconds(),
		SessionID: st.Session}
	if !full {
		v.Reason, v.SessionID = "", 0
	}
	return v
}

func (a *API) channelStatus(w http.ResponseWriter, r *http.Request) {
	if !a.publicRead(w, r) {
		return
	}
	st, err := a.g.Status(chi.URLParam(r, "name"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, statusView(st, a.authorized(r)))
}
