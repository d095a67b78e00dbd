package bearerauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
)

const (
	testAudience = "https://auth.example.com/sinch/rtc/push/oauth2/v1/huawei-hms/token"
	testScope    = "hms.token"
	testIssuer   = "https://as.example.com"
)

// staticVerifier verifies tokens of key with the test issuer, audience and
// scope, at the fixed time now.
func staticVerifier(t testing.TB, key *astest.Key, now time.Time) *bearerauth.JWTVerifier {
	t.Helper()
	src, err := bearerauth.NewStaticKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{
		Keys:           src,
		Issuer:         testIssuer,
		Audience:       testAudience,
		RequiredScopes: []string{testScope},
		ClockSkew:      time.Minute,
		Now:            func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       testIssuer,
		"sub":       "sinch",
		"client_id": "sinch-client",
		"aud":       testAudience,
		"scope":     "openid " + testScope,
		"iat":       now.Unix(),
		"exp":       now.Add(10 * time.Minute).Unix(),
	}
}

func TestJWTGoodTokensEveryAlgorithm(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range bearerauth.AllowedAlgorithms {
		t.Run(alg, func(t *testing.T) {
			key := astest.NewKey("k-"+alg, alg)
			p, err := staticVerifier(t, key, now).Verify(context.Background(), astest.MintWith(key, goodClaims(now), nil))
			if err != nil {
				t.Fatalf("good %s token refused: %v", alg, err)
			}
			if p.ClientID != "sinch-client" || p.Subject != "sinch" || p.Issuer != testIssuer ||
				!p.ExpiresAt.Equal(now.Add(10*time.Minute)) || len(p.Scopes) != 2 {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestJWTAcceptedShapes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := astest.NewKey("k", "ES256")
	v := staticVerifier(t, key, now)
	for name, tc := range map[string]struct {
		claims func(jwt.MapClaims)
		header map[string]any
	}{
		"aud array containing ours": {claims: func(c jwt.MapClaims) { c["aud"] = []any{"other", testAudience} }},
		"scope as array":            {claims: func(c jwt.MapClaims) { c["scope"] = []any{testScope, "x"} }},
		"scp array":                 {claims: func(c jwt.MapClaims) { delete(c, "scope"); c["scp"] = []any{testScope} }},
		"typ JWT":                   {header: map[string]any{"typ": "JWT"}},
		"typ application/at+jwt":    {header: map[string]any{"typ": "application/at+jwt"}},
		"no typ":                    {header: map[string]any{"typ": nil}},
		"expired within skew":       {claims: func(c jwt.MapClaims) { c["exp"] = now.Add(-30 * time.Second).Unix() }},
		"nbf within skew":           {claims: func(c jwt.MapClaims) { c["nbf"] = now.Add(30 * time.Second).Unix() }},
		"azp as client":             {claims: func(c jwt.MapClaims) { delete(c, "client_id"); c["azp"] = "sinch-client" }},
	} {
		t.Run(name, func(t *testing.T) {
			c := goodClaims(now)
			if tc.claims != nil {
				tc.claims(c)
			}
			p, err := v.Verify(context.Background(), astest.MintWith(key, c, tc.header))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if p.ClientID != "sinch-client" {
				t.Errorf("client id = %q", p.ClientID)
			}
		})
	}
}

// TestJWTRejections covers each rejection reason with one token that
// fails exactly that check.
func TestJWTRejections(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := astest.NewKey("k", "RS256")
	other := astest.NewKey("k", "RS256")
	v := staticVerifier(t, key, now)
	mod := func(f func(jwt.MapClaims)) string {
		c := goodClaims(now)
		f(c)
		return astest.MintWith(key, c, nil)
	}
	good := astest.MintWith(key, goodClaims(now), nil)
	parts := strings.Split(good, ".")

	for name, tc := range map[string]struct {
		token string
		want  bearerauth.Reason
	}{
		"empty":                   {"", bearerauth.ReasonMalformed},
		"not a JWS":               {"opaque-token", bearerauth.ReasonMalformed},
		"oversize":                {good + strings.Repeat("A", bearerauth.MaxTokenBytes), bearerauth.ReasonMalformed},
		"bad base64":              {parts[0] + ".!!!." + parts[2], bearerauth.ReasonMalformed},
		"wrong issuer":            {mod(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), bearerauth.ReasonIssuer},
		"no issuer":               {mod(func(c jwt.MapClaims) { delete(c, "iss") }), bearerauth.ReasonMissingClaim},
		"wrong audience":          {mod(func(c jwt.MapClaims) { c["aud"] = "https://other.example" }), bearerauth.ReasonAudience},
		"no audience":             {mod(func(c jwt.MapClaims) { delete(c, "aud") }), bearerauth.ReasonMissingClaim},
		"expired":                 {mod(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), bearerauth.ReasonExpired},
		"no exp":                  {mod(func(c jwt.MapClaims) { delete(c, "exp") }), bearerauth.ReasonMissingClaim},
		"nbf in future":           {mod(func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), bearerauth.ReasonNotYetValid},
		"iat in future":           {mod(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() }), bearerauth.ReasonNotYetValid},
		"missing scope":           {mod(func(c jwt.MapClaims) { c["scope"] = "openid profile" }), bearerauth.ReasonScope},
		"no scope claim":          {mod(func(c jwt.MapClaims) { delete(c, "scope") }), bearerauth.ReasonScope},
		"scope of wrong type":     {mod(func(c jwt.MapClaims) { c["scope"] = 7 }), bearerauth.ReasonMissingClaim},
		"scope as prefix only":    {mod(func(c jwt.MapClaims) { c["scope"] = testScope + "x" }), bearerauth.ReasonScope},
		"signed by another key":   {astest.MintWith(other, goodClaims(now), nil), bearerauth.ReasonSignature},
		"tampered payload":        {parts[0] + "." + mustPayload(t, goodClaims(now), "sub", "admin") + "." + parts[2], bearerauth.ReasonSignature},
		"HS256 with public key":   {hs256WithPublicKey(t, key, goodClaims(now)), bearerauth.ReasonAlgorithm},
		"alg none":                {unsignedNone(t, goodClaims(now)), bearerauth.ReasonAlgorithm},
		"alg RS384 not allowed":   {rs384(t, key, goodClaims(now)), bearerauth.ReasonAlgorithm},
		"typ of an ID token kind": {astest.MintWith(key, goodClaims(now), map[string]any{"typ": "logout+jwt"}), bearerauth.ReasonType},
		"crit header":             {astest.MintWith(key, goodClaims(now), map[string]any{"crit": []string{"exp"}}), bearerauth.ReasonType},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			if got := bearerauth.ReasonOf(err); got != tc.want {
				t.Fatalf("reason = %q (%v), want %q", got, err, tc.want)
			}
			var e *bearerauth.Error
			if !errors.As(err, &e) || e.Detail == "" {
				t.Errorf("error %v has no detail", err)
			}
			if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error echoes the token")
			}
		})
	}
}

func TestNewJWTVerifierNeedsIssuerAndAudience(t *testing.T) {
	src, _ := bearerauth.NewStaticKey(astest.NewKey("k", "EdDSA").Public())
	for name, cfg := range map[string]bearerauth.JWTConfig{
		"no keys":     {Issuer: "i", Audience: "a"},
		"no issuer":   {Keys: src, Audience: "a"},
		"no audience": {Keys: src, Issuer: "i"},
	} {
		if _, err := bearerauth.NewJWTVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStaticKeyTypes(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bearerauth.NewStaticKey(&small.PublicKey); err == nil {
		t.Error("1024-bit RSA key accepted")
	}
	if _, err := bearerauth.NewStaticKey([]byte("secret")); err == nil {
		t.Error("an HMAC secret accepted as a public key")
	}
	for _, alg := range bearerauth.AllowedAlgorithms {
		k := astest.NewKey("k", alg)
		pub, err := bearerauth.ParsePublicKeyPEM(k.PublicPEM())
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if _, err := bearerauth.NewStaticKey(pub); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	der, _ := x509.MarshalPKCS8PrivateKey(small)
	if _, err := bearerauth.ParsePublicKeyPEM([]byte("-----BEGIN PRIVATE KEY-----\n" +
		base64.StdEncoding.EncodeToString(der) + "\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Error("a private key PEM accepted as a public key")
	}
}

// hs256WithPublicKey is the classic key-confusion attack: an HS256 token
// whose HMAC key is the server's public key, as a JWKS would publish it.
func hs256WithPublicKey(t testing.TB, key *astest.Key, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = key.KID
	s, err := tok.SignedString(key.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unsignedNone(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rs384(t testing.TB, key *astest.Key, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS384, claims)
	tok.Header["kid"] = key.KID
	s, err := tok.SignedString(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustPayload encodes claims with one claim changed, as a JWT payload.
func mustPayload(t testing.TB, claims jwt.MapClaims, k string, v any) string {
	t.Helper()
	claims[k] = v
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(s, ".")[1]
}

// TestJWTStaticKeyWithoutKID: with one fixed public key there is nothing to
// choose between, so a token need not name it.
func TestJWTStaticKeyWithoutKID(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := astest.NewKey("k", "RS256")
	if _, err := staticVerifier(t, key, now).Verify(context.Background(), astest.MintWith(key, goodClaims(now), map[string]any{"kid": nil})); err != nil {
		t.Fatalf("token without kid refused with public_key: %v", err)
	}
}
