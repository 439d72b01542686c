package gateway

import "errors"

// Errors returned by the gateway; callers classify with errors.Is. The
// message of the wrapping error is meant for the user (it names the reason).
var (
	ErrInvalid        = errors.New("invalid")
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrLimit          = errors.New("limit reached")
	ErrUpstreamDenied = errors.New("upstream denied")
	ErrUnavailable    = errors.New("channel unavailable") // the channel cannot start or is stopped
	ErrClosed         = errors.New("gateway closed")
	// ErrPermanent marks a Dialer error that retrying cannot cure (the
	// embedded demo server is not running): the channel fails with the
	// reason and is tried again only when a viewer arrives, Start is called
	// or its configuration changes, not on the reconnect backoff.
	ErrPermanent = errors.New("permanent failure")
)
