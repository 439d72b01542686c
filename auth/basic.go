package auth

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// BasicCredentials returns the token a client sends for Basic
// authentication in OpenFile's tokenData or SecurityResponse's pToken
// (MS-MMSP 2.2.4.21, 2.2.4.24): RFC 2617 basic-credentials, base64 of
// "user:password", as a NUL-terminated ASCII string.
func BasicCredentials(user, password string) []byte {
	return append([]byte(base64.StdEncoding.EncodeToString([]byte(user+":"+password))), 0)
}

// ParseBasicCredentials decodes such a token. A leading "Basic " and a
// missing NUL are tolerated.
func ParseBasicCredentials(token []byte) (user, password string, err error) {
	token, _, _ = bytes.Cut(token, []byte{0})
	t := strings.TrimSpace(string(token))
	if len(t) > 6 && strings.EqualFold(t[:6], "basic ") {
		t = strings.TrimSpace(t[6:])
	}
	raw, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return "", "", fmt.Errorf("%w: Basic credentials are not base64: %v", ErrAuthFailed, err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("%w: Basic credentials without ':'", ErrAuthFailed)
	}
	return user, password, nil
}

// equalConst compares secrets in constant time.
func equalConst(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
