package oauthserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method names).
const (
	MethodSecretPost  = "client_secret_post"
	MethodSecretBasic = "client_secret_basic"
)

// credentials are what a token request presents to authenticate its client.
type credentials struct {
	id, secret string
	method     string
}

// clientSet holds the SHA-256 digests of the clients' secrets, so that a
// comparison takes the same time whatever the length of the secret tried
// and no plain secret stays in memory longer than provisioning.
type clientSet map[string][sha256.Size]byte

// dummyDigest is compared against when the client id is unknown, so that an
// unknown id costs the same as a wrong secret.
var dummyDigest = sha256.Sum256([]byte("oauthserver: no such client"))

// authenticate reports whether c is a configured client with that secret,
// in constant time with respect to the secret.
func (s clientSet) authenticate(c credentials) bool {
	want, known := s[c.id]
	if !known {
		want = dummyDigest
	}
	got := sha256.Sum256([]byte(c.secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && known
}

// readCredentials finds the client credentials of a token request: HTTP
// Basic (client_secret_basic) or client_id and client_secret in the body
// (client_secret_post). RFC 6749 §2.3 forbids using both at once.
func readCredentials(form oauthresp.Form, authorization string) (credentials, *oauthresp.Error) {
	basic, hasBasic, oerr := parseBasic(authorization)
	if oerr != nil {
		return credentials{}, oerr
	}
	switch {
	case hasBasic && form.Has("client_secret"):
		return credentials{}, refuse(ReasonBothCredentials,
			"client authenticated twice: use either HTTP Basic or client_secret in the body, not both")
	case hasBasic:
		if form.Has("client_id") && form.Get("client_id") != basic.id {
			return credentials{}, refuse(ReasonClientIDMismatch,
				"client_id in the body differs from the HTTP Basic user")
		}
		return basic, nil
	case form.Get("client_id") != "" && form.Has("client_secret"):
		return credentials{id: form.Get("client_id"), secret: form.Get("client_secret"), method: MethodSecretPost}, nil
	case form.Has("client_id") || form.Has("client_secret"):
		return credentials{}, refuse(ReasonIncomplete, "client_secret_post needs both client_id and client_secret")
	}
	return credentials{}, refuse(ReasonNoCredentials, "no client authentication: send client_id and client_secret, or HTTP Basic")
}

// basicChallenge is the WWW-Authenticate value of every 401: HTTP requires
// one on a 401, and RFC 6749 §5.2 requires this one when the client tried
// HTTP Basic.
const basicChallenge = `Basic realm="token", charset="UTF-8"`

// parseBasic decodes an HTTP Basic Authorization header. RFC 6749 §2.3.1
// has client id and secret form-urlencoded before they are joined and
// base64-encoded, so they are unescaped here (net/http's BasicAuth does
// not). Another scheme is refused: it is not a client authentication
// method this server knows.
func parseBasic(authorization string) (credentials, bool, *oauthresp.Error) {
	if authorization == "" {
		return credentials{}, false, nil
	}
	scheme, payload, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return credentials{}, false, refuse(ReasonAuthScheme, "unsupported Authorization scheme: use HTTP Basic or client_secret_post")
	}
	malformed := func() (credentials, bool, *oauthresp.Error) {
		return credentials{}, true, refuse(ReasonMalformedBasic, "malformed HTTP Basic credentials")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return malformed()
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return malformed()
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return malformed()
	}
	return credentials{id: id, secret: secret, method: MethodSecretBasic}, true, nil
}

// PresentedClientID returns the client_id a token request presents — the
// HTTP Basic user, else the body's client_id — and whether it is a
// configured client. It is for logging a refused request: an id that is no
// client may be anything, even a secret pasted into the wrong field.
func (s *Server) PresentedClientID(form oauthresp.Form, authorization string) (id string, known bool) {
	if basic, ok, oerr := parseBasic(authorization); ok && oerr == nil {
		id = basic.id
	} else {
		id = form.Get("client_id")
	}
	_, known = s.clients[id]
	return id, known && id != ""
}
