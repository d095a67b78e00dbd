// Package astest is an in-process OAuth 2.0 Authorization Server for tests:
// it signs JWT access tokens with keys it publishes as a JWKS (and can
// rotate mid-test), issues opaque tokens and answers RFC 7662 introspection,
// and counts the requests it gets. It listens on 127.0.0.1 only.
package astest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Paths served.
const (
	JWKSPath          = "/jwks"
	IntrospectionPath = "/introspect"
)

// Key is one signing key of the server.
type Key struct {
	KID     string
	Alg     string // RS256, PS256, ES256 or EdDSA
	Private crypto.Signer
	// Use is the key's published "use": "" publishes "sig", Omit none.
	Use string
	// JWKAlg is the key's published "alg": "" publishes Alg, Omit none.
	JWKAlg string
}

// Omit, as a Key's Use or JWKAlg, leaves the parameter out of the JWKS.
const Omit = "-"

// Public returns the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.Private.Public() }

// PublicPEM returns the public key as a PKIX PEM block.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// NewKey generates a key for alg.
func NewKey(kid, alg string) *Key {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("astest: unsupported alg " + alg)
	}
	if err != nil {
		panic(err)
	}
	return &Key{KID: kid, Alg: alg, Private: priv}
}

// NewRSAKey generates an RSA key of bits for alg (RS256 or PS256), e.g. one
// too short to be trusted.
func NewRSAKey(kid, alg string, bits int) *Key {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return &Key{KID: kid, Alg: alg, Private: priv}
}

// published returns the JWK's "use" and "alg" for k.
func (k *Key) published() (jwkset.USE, jwkset.ALG) {
	return jwkset.USE(orDefault(k.Use, string(jwkset.UseSig))), jwkset.ALG(orDefault(k.JWKAlg, k.Alg))
}

// orDefault is a Key field as published: def when unset, nothing for Omit.
func orDefault(v, def string) string {
	switch v {
	case "":
		return def
	case Omit:
		return ""
	}
	return v
}

// Introspected is what the introspection endpoint says about an opaque
// token (RFC 7662 §2.2); it is sent as JSON as is.
type Introspected map[string]any

// Server is the test Authorization Server.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string // accepted at the introspection endpoint

	mu              sync.Mutex
	keys            []*Key // published, in order; the last one signs
	opaque          map[string]Introspected
	jwksDown        bool
	jwksFetches     int
	introspectCalls int
}

// NewServer starts a server publishing one EdDSA key "k1".
func NewServer() *Server {
	s := &Server{
		ClientID:     "caddy-rs",
		ClientSecret: "rs+secret/with=chars",
		keys:         []*Key{NewKey("k1", "EdDSA")},
		opaque:       make(map[string]Introspected),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(JWKSPath, s.serveJWKS)
	mux.HandleFunc(IntrospectionPath, s.serveIntrospection)
	s.Server = httptest.NewServer(mux) // 127.0.0.1, port 0
	return s
}

// Issuer is the iss of the server's tokens: its URL.
func (s *Server) Issuer() string { return s.URL }

// JWKSURL is where the JWKS is served.
func (s *Server) JWKSURL() string { return s.URL + JWKSPath }

// IntrospectionURL is the RFC 7662 endpoint.
func (s *Server) IntrospectionURL() string { return s.URL + IntrospectionPath }

// AddKey publishes k and makes it the signing key (a key rotation: the
// older keys stay published until RemoveKey).
func (s *Server) AddKey(k *Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
}

// RemoveKey stops publishing the key with kid.
func (s *Server) RemoveKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.KID == kid {
			s.keys = append(s.keys[:i], s.keys[i+1:]...)
			return
		}
	}
}

// SigningKey is the key new tokens are signed with.
func (s *Server) SigningKey() *Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1]
}

// SetJWKSDown makes the JWKS endpoint answer 503 (true) or serve (false).
func (s *Server) SetJWKSDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwksDown = down
}

// JWKSFetches counts the requests to the JWKS endpoint.
func (s *Server) JWKSFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksFetches
}

// IntrospectionCalls counts the requests to the introspection endpoint.
func (s *Server) IntrospectionCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.introspectCalls
}

// Claims returns the claims of a good access token for audience, lifetime
// and scope, as RFC 9068 lists them.
func (s *Server) Claims(audience, scope string, lifetime time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":       s.Issuer(),
		"sub":       "sinch-client",
		"client_id": "sinch-client",
		"aud":       audience,
		"scope":     scope,
		"iat":       now.Unix(),
		"exp":       now.Add(lifetime).Unix(),
		"jti":       randomHex(8),
	}
}

// Mint signs claims with the signing key, header typ at+jwt and its kid.
func (s *Server) Mint(claims jwt.MapClaims) string {
	return MintWith(s.SigningKey(), claims, nil)
}

// MintWith signs claims with k; header entries override the defaults (a
// nil value deletes one).
func MintWith(k *Key, claims jwt.MapClaims, header map[string]any) string {
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = k.KID
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	signed, err := tok.SignedString(k.Private)
	if err != nil {
		panic(err)
	}
	return signed
}

// IssueOpaque returns a new opaque token that introspects as info.
func (s *Server) IssueOpaque(info Introspected) string {
	tok := randomHex(24)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opaque[tok] = info
	return tok
}

// Revoke makes an opaque token introspect as inactive.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.opaque, token)
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.jwksFetches++
	down := s.jwksDown
	keys := append([]*Key(nil), s.keys...)
	s.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		use, alg := k.published()
		jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: alg, USE: use},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_ = json.NewEncoder(w).Encode(set)
}

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.introspectCalls++
	s.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if r.Method != http.MethodPost || !ok || id != s.ClientID || secret != s.ClientSecret {
		w.Header().Set("WWW-Authenticate", "Basic")
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	info, known := s.opaque[r.PostForm.Get("token")]
	s.mu.Unlock()
	ans := Introspected{"active": false}
	if known {
		ans = Introspected{"active": true}
		for k, v := range info {
			ans[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// String names the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("astest.Server(%s)", s.URL) }
