// Package googletest emulates Google's OAuth 2.0 token endpoint
// (https://oauth2.googleapis.com/token) for the service-account JWT-bearer
// grant (RFC 7523), for tests and demos. It verifies the grant for real:
// the RS256 signature against the registered account's public key, iss,
// scope, aud, iat and exp; it answers with Google's shapes and error codes
// (invalid_grant, invalid_client, invalid_scope, 5xx) and lets a test inject
// faults.
package googletest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GrantType is the RFC 7523 JWT-bearer grant type.
const GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// FCMScope is the scope a grant must ask for.
const FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

// DefaultExpiresIn is what Google answers for a fresh token.
const DefaultExpiresIn = 3599

// maxLifetime is the longest exp - iat Google accepts (one hour).
const maxLifetime = time.Hour

// skew is the clock leeway on iat and exp.
const skew = 5 * time.Minute

// Fault is an injected failure; it applies until SetFault(Fault{}).
type Fault struct {
	// Status, when non-zero, is answered instead of verifying the grant,
	// with Body (default: a Google-like JSON error for that status).
	Status int
	Body   string
}

// Emulator is the token endpoint as an http.Handler. Its audience (the
// aud a grant must carry) is set by Server or SetAudience. Safe for
// concurrent use.
type Emulator struct {
	mu        sync.Mutex
	audience  string
	accounts  map[string]*account // by client_email
	calls     int
	issued    map[string][]string
	fault     Fault
	expiresIn int
	now       func() time.Time
}

type account struct {
	pub      *rsa.PublicKey
	keyID    string
	disabled bool
}

// NewEmulator returns an emulator with no accounts.
func NewEmulator(audience string) *Emulator {
	return &Emulator{
		audience:  audience,
		accounts:  make(map[string]*account),
		issued:    make(map[string][]string),
		expiresIn: DefaultExpiresIn,
		now:       time.Now,
	}
}

// AddAccount registers a service account's public key.
func (e *Emulator) AddAccount(sa *ServiceAccount) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[sa.Email] = &account{pub: &sa.Key.PublicKey, keyID: sa.KeyID}
}

// DisableAccount makes Google refuse the account as a client (401
// invalid_client), as for a disabled service account.
func (e *Emulator) DisableAccount(email string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.accounts[email]; a != nil {
		a.disabled = true
	}
}

// SetFault injects (or, with Fault{}, clears) a failure.
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault = f
}

// SetExpiresIn sets the expires_in of issued tokens.
func (e *Emulator) SetExpiresIn(secs int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expiresIn = secs
}

// SetAudience sets the aud a grant must carry (the token URL).
func (e *Emulator) SetAudience(aud string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.audience = aud
}

// Calls is the number of token requests received (faulted ones included).
func (e *Emulator) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// IssuedTokens are the tokens issued to an account, oldest first.
func (e *Emulator) IssuedTokens(email string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued[email]...)
}

// ServeHTTP handles one token request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.calls++
	fault := e.fault
	e.mu.Unlock()
	if fault.Status != 0 {
		writeFault(w, fault)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	if r.PostForm.Get("grant_type") != GrantType {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	email, gerr := e.verify(r.PostForm.Get("assertion"))
	if gerr != nil {
		writeError(w, gerr.status, gerr.code, gerr.desc)
		return
	}
	e.issue(w, email)
}

type grantError struct {
	status     int
	code, desc string
}

func invalidGrant(desc string) *grantError {
	return &grantError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

// verify checks the signed grant as Google does and returns the account.
func (e *Emulator) verify(assertion string) (string, *grantError) {
	if assertion == "" {
		return "", &grantError{http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion"}
	}
	var claims struct {
		jwt.RegisteredClaims
		Scope string `json:"scope"`
	}
	e.mu.Lock()
	aud, now := e.audience, e.now()
	e.mu.Unlock()
	var acct *account
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		acct = e.accounts[claims.Issuer]
		if acct == nil {
			return nil, errUnknownAccount
		}
		if kid, _ := t.Header["kid"].(string); kid != "" && kid != acct.keyID {
			return nil, errors.New("unknown key")
		}
		return acct.pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	switch {
	case errors.Is(err, errUnknownAccount):
		return "", invalidGrant("Invalid grant: account not found")
	case err != nil:
		return "", invalidGrant("Invalid JWT Signature.")
	case acct.disabled:
		return "", &grantError{http.StatusUnauthorized, "invalid_client", "The OAuth client was disabled."}
	}
	if gerr := checkClaims(claims.RegisteredClaims, claims.Scope, aud, now); gerr != nil {
		return "", gerr
	}
	return claims.Issuer, nil
}

var errUnknownAccount = errors.New("unknown account")

func checkClaims(c jwt.RegisteredClaims, scope, aud string, now time.Time) *grantError {
	if len(c.Audience) != 1 || c.Audience[0] != aud {
		return invalidGrant("Invalid JWT: Failed audience check. The right audience is " + aud)
	}
	if c.IssuedAt == nil || c.ExpiresAt == nil {
		return invalidGrant("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	iat, exp := c.IssuedAt.Time, c.ExpiresAt.Time
	if iat.After(now.Add(skew)) || !exp.After(now.Add(-skew)) || exp.Sub(iat) > maxLifetime || !exp.After(iat) {
		return invalidGrant("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if !containsScope(scope, FCMScope) {
		return &grantError{http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided."}
	}
	return nil
}

func containsScope(scopes, want string) bool {
	for s := range strings.FieldsSeq(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

// issue answers with a fresh ya29. token, as Google does.
func (e *Emulator) issue(w http.ResponseWriter, email string) {
	var b [48]byte
	_, _ = rand.Read(b[:])
	tok := "ya29." + base64.RawURLEncoding.EncodeToString(b[:])
	e.mu.Lock()
	e.issued[email] = append(e.issued[email], tok)
	expiresIn := e.expiresIn
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": expiresIn, "token_type": "Bearer"})
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	switch {
	case f.Status >= 500:
		writeError(w, f.Status, "internal_failure", "Backend Error")
	case f.Status == http.StatusUnauthorized:
		writeError(w, f.Status, "invalid_client", "The OAuth client was not found.")
	default:
		writeError(w, f.Status, "invalid_grant", "Invalid grant")
	}
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tokenURL joins a base URL and TokenPath.
func tokenURL(base string) string {
	u, err := url.JoinPath(base, TokenPath)
	if err != nil {
		return base + TokenPath
	}
	return u
}
