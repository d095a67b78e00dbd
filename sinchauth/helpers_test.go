package sinchauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// Test fixture values. The secret is arbitrary bytes, as a decoded Sinch
// secret is.
const (
	testAppKey   = "0b1c2d3e-aaaa-4bbb-8ccc-123456789abc"
	testHMSApp   = "101234567"
	testAudience = "https://auth.example.com/sinch/rtc/push/oauth2/v1/huawei-hms/token"
	testSkew     = 60 * time.Second
	testLifetime = time.Hour
)

var (
	testSecret  = []byte("\x01\x02test-secret\xfe\xff-0123456789abcdef")
	testSecret2 = []byte("rotated-secret-\x00\x10\x20\x30")
	otherSecret = []byte("not-the-configured-secret")
	testNow     = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
)

// fixture is a validator on a fixed clock with an inspectable replay store.
type fixture struct {
	t     *testing.T
	now   time.Time
	store *MemoryReplayStore
	v     *Validator
}

func newFixture(t *testing.T, mods ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, now: testNow}
	clock := func() time.Time { return f.now }
	f.store = NewMemoryReplayStore(clock)
	cfg := Config{
		Applications:    map[string][][]byte{testAppKey: {testSecret}},
		HMSApplications: map[string]bool{testHMSApp: true},
		ClockSkew:       testSkew,
		MaxLifetime:     testLifetime,
		Replay:          f.store,
		Now:             clock,
	}
	for _, m := range mods {
		m(&cfg)
	}
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	f.v = v
	return f
}

// header and claims return a valid assertion's parts for the fixture's now;
// tests mutate them to break exactly one rule.
func (f *fixture) header() map[string]any {
	return map[string]any{
		"alg": "HS256", "typ": "JWT", "kid": KeyID(f.now), claimAppKey: testAppKey,
	}
}

func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss":       issuerPrefix + testAppKey,
		"sub":       testHMSApp,
		"aud":       testAudience,
		"scope":     HuaweiPushScope,
		claimAppKey: testAppKey,
		"iat":       f.now.Unix(),
		"exp":       f.now.Add(10 * time.Minute).Unix(),
		"nonce":     "nonce-" + f.t.Name(),
	}
}

// token signs h.p with the key derived from secret for h's kid day (today if
// the kid is unusable), with HMAC-SHA256 whatever h's alg says.
func (f *fixture) token(h, p map[string]any, secret []byte) string {
	f.t.Helper()
	day := f.now.UTC().Format(dayLayout)
	if kid, ok := h["kid"].(string); ok {
		if k, ok := parseKeyID(kid); ok {
			day = k.day
		}
	}
	return signHS256(f.t, h, p, DeriveSigningKey(secret, day))
}

// valid returns a valid assertion after applying edit to its parts.
func (f *fixture) valid(edit func(h, p map[string]any)) string {
	f.t.Helper()
	h, p := f.header(), f.claims()
	if edit != nil {
		edit(h, p)
	}
	return f.token(h, p, testSecret)
}

func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func signHS256(t testing.TB, h, p any, key []byte) string {
	t.Helper()
	in := segment(t, h) + "." + segment(t, p)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// expectOK validates tok against testAudience and fails the test on error.
func (f *fixture) expectOK(tok string) *Assertion {
	f.t.Helper()
	a, err := f.v.Validate(context.Background(), tok, []string{testAudience})
	if err != nil {
		f.t.Fatalf("Validate: unexpected rejection: %v", err)
	}
	return a
}

// expectReason validates tok and requires rejection for want. It also checks
// the promises every rejection keeps: an *Error, no nonce recorded, and no
// assertion, signature or secret in the message.
func (f *fixture) expectReason(tok string, want Reason, audiences ...string) *Error {
	f.t.Helper()
	if audiences == nil {
		audiences = []string{testAudience}
	}
	before := f.store.Len()
	a, err := f.v.Validate(context.Background(), tok, audiences)
	if err == nil {
		f.t.Fatalf("Validate accepted (%+v), want %s", a, want)
	}
	if a != nil {
		f.t.Errorf("Validate returned an assertion with an error")
	}
	var e *Error
	if !errors.As(err, &e) {
		f.t.Fatalf("error %T %v is not *Error", err, err)
	}
	if e.Reason != want {
		f.t.Fatalf("reason = %s (%v), want %s", e.Reason, err, want)
	}
	if got := f.store.Len(); got != before {
		f.t.Errorf("rejected assertion changed the replay store: %d -> %d", before, got)
	}
	assertNoSecrets(f.t, err.Error(), tok)
	return e
}

// assertNoSecrets checks an error message for the assertion, its signature
// and the fixture secrets (raw and base64).
func assertNoSecrets(t *testing.T, msg, tok string) {
	t.Helper()
	if len(tok) > 16 && strings.Contains(msg, tok) {
		t.Errorf("error message contains the assertion: %s", msg)
	}
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 && strings.Contains(msg, tok[i+1:]) {
		t.Errorf("error message contains the signature: %s", msg)
	}
	for _, s := range [][]byte{testSecret, testSecret2} {
		if strings.Contains(msg, string(s)) || strings.Contains(msg, base64.StdEncoding.EncodeToString(s)) {
			t.Errorf("error message contains a secret: %s", msg)
		}
	}
}

// referenceVector is Sinch's reference data (copied from shared/vectors).
type referenceVector struct {
	ApplicationKey          string `json:"application_key"`
	ApplicationSecretBase64 string `json:"application_secret_base64"`
	NowUnix                 int64  `json:"now_unix"`
	Nonce                   string `json:"nonce"`
	HMSApplicationID        string `json:"hms_application_id"`
	Kid                     string `json:"kid"`
	DerivedSigningKeyBase64 string `json:"derived_signing_key_base64"`
	HMSClientAssertion      struct {
		Audience       string `json:"audience"`
		ValidFromUnix  int64  `json:"valid_from_unix"`
		ValidUntilUnix int64  `json:"valid_until_unix"`
		JWT            string `json:"jwt"`
	} `json:"hms_client_assertion"`
	ObsoleteHMSClientAssertion struct {
		JWT string `json:"jwt"`
	} `json:"obsolete_hms_client_assertion"`
}

func loadReference(t testing.TB) referenceVector {
	t.Helper()
	b, err := os.ReadFile("testdata/sinch-reference.json")
	if err != nil {
		t.Fatalf("reference vector: %v", err)
	}
	var r referenceVector
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reference vector: %v", err)
	}
	return r
}

// referenceValidator accepts the reference application at the vector's now.
func referenceValidator(t testing.TB, r referenceVector, secrets ...[]byte) (*Validator, *MemoryReplayStore) {
	t.Helper()
	if secrets == nil {
		s, err := DecodeSecret(r.ApplicationSecretBase64)
		if err != nil {
			t.Fatal(err)
		}
		secrets = [][]byte{s}
	}
	now := func() time.Time { return time.Unix(r.NowUnix, 0) }
	store := NewMemoryReplayStore(now)
	v, err := NewValidator(Config{
		Applications:    map[string][][]byte{r.ApplicationKey: secrets},
		HMSApplications: map[string]bool{r.HMSApplicationID: true},
		ClockSkew:       testSkew,
		MaxLifetime:     testLifetime,
		Replay:          store,
		Now:             now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, store
}
