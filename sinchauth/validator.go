package sinchauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// MaxAssertionSize bounds the assertion before any decoding. Sinch's
// assertions are about 700 bytes; 8 KiB leaves room and caps the work an
// anonymous caller can cause.
const MaxAssertionSize = 8 << 10

// Config configures a Validator.
type Config struct {
	Applications    map[string][][]byte // Sinch application key -> decoded secrets (several during rotation)
	HMSApplications map[string]bool     // configured HMS App IDs (sub must be one)
	ClockSkew       time.Duration       // leeway for iat/exp/nbf; 0 means none
	MaxLifetime     time.Duration       // max exp-iat; must be > 0
	Replay          ReplayStore         // required
	Now             func() time.Time    // nil = time.Now
}

// Validator checks Sinch client assertions. It is safe for concurrent use;
// its configuration is copied at construction and never changes.
type Validator struct {
	apps        map[string]*application
	hms         map[string]struct{}
	skew        time.Duration
	maxLifetime time.Duration
	replay      ReplayStore
	now         func() time.Time
	parser      *jwt.Parser // its strict DecodeSegment decodes every segment
	headers     headerCache
}

// Assertion is what a valid client assertion establishes: which Sinch
// application asks, for which HMS application, and the assertion's validity.
type Assertion struct {
	ApplicationKey      string
	HMSApplicationID    string
	Nonce               string
	IssuedAt, ExpiresAt time.Time
}

// NewValidator checks cfg and builds a Validator. It refuses a configuration
// that could never accept anything or could accept too much: no
// applications, an application without secrets, an empty secret, no replay
// store, a non-positive MaxLifetime or a negative ClockSkew.
func NewValidator(cfg Config) (*Validator, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	v := &Validator{
		apps:        make(map[string]*application, len(cfg.Applications)),
		hms:         make(map[string]struct{}, len(cfg.HMSApplications)),
		skew:        cfg.ClockSkew,
		maxLifetime: cfg.MaxLifetime,
		replay:      cfg.Replay,
		now:         cfg.Now,
		// golang-jwt's strict decoding: base64url without padding and with
		// zero trailing bits, so one signature has one spelling.
		parser: jwt.NewParser(jwt.WithStrictDecoding()),
	}
	if v.now == nil {
		v.now = time.Now
	}
	for key, secrets := range cfg.Applications {
		app := &application{key: key, issuer: issuerPrefix + key}
		for _, s := range secrets {
			app.secrets = append(app.secrets, append([]byte(nil), s...))
		}
		v.apps[key] = app
	}
	for id, ok := range cfg.HMSApplications {
		if ok {
			v.hms[id] = struct{}{}
		}
	}
	return v, nil
}

// checkConfig reports the first configuration error; messages name the
// application key but never a secret.
func checkConfig(cfg Config) error {
	if len(cfg.Applications) == 0 {
		return errors.New("sinchauth: no Sinch application configured")
	}
	for key, secrets := range cfg.Applications {
		if key == "" {
			return errors.New("sinchauth: empty Sinch application key")
		}
		if len(secrets) == 0 {
			return fmt.Errorf("sinchauth: Sinch application %q has no secret", key)
		}
		for i, s := range secrets {
			if len(s) == 0 {
				return fmt.Errorf("sinchauth: secret #%d of Sinch application %q is empty", i+1, key)
			}
		}
	}
	if cfg.Replay == nil {
		return errors.New("sinchauth: a replay store is required")
	}
	if cfg.MaxLifetime <= 0 {
		return errors.New("sinchauth: the maximum assertion lifetime must be positive")
	}
	if cfg.MaxLifetime > MaxLifetimeCeiling {
		return fmt.Errorf("sinchauth: the maximum assertion lifetime is %v, at most %v", cfg.MaxLifetime, MaxLifetimeCeiling)
	}
	if cfg.ClockSkew < 0 {
		return errors.New("sinchauth: the clock skew must not be negative")
	}
	return nil
}

// MaxLifetimeCeiling bounds Config.MaxLifetime: an assertion valid for
// longer than a day is a bearer credential in all but name, and its nonce
// would have to be kept as long.
const MaxLifetimeCeiling = 24 * time.Hour

// Validate checks a compact JWS client assertion. audiences = the accepted aud
// values (the caller passes the configured list, or the request's own URL).
// On success the nonce has been claimed in the replay store.
//
// Every failure is an *Error (see ReasonOf). The order is: size and line
// breaks, JWS structure, header (alg, crit, application, kid), signature,
// kid vs iat, claims, and last the nonce, so a rejected assertion never
// records one. The payload is decoded only once the signature verified; a
// failed signature is reported as a malformed payload, a missing iat or a
// bad kid first when it is one (see explainBadSignature).
func (v *Validator) Validate(ctx context.Context, assertion string, audiences []string) (*Assertion, error) {
	a, rej := v.validate(ctx, assertion, audiences)
	if rej != nil {
		return nil, rej // never a typed-nil error
	}
	return a, nil
}

func (v *Validator) validate(ctx context.Context, assertion string, audiences []string) (*Assertion, *Error) {
	if rej := checkShape(assertion); rej != nil {
		return nil, rej
	}
	now := v.now()
	var claims payload // on the stack: its values point into the decoded segment
	app, iat, rej := v.verify(assertion, epochDay(now), &claims)
	if rej != nil {
		return nil, rej.claimedBy(&claims)
	}
	a, rej := v.checkClaims(app, &claims, iat, audiences, now)
	if rej != nil {
		rej.Claimed.ApplicationKey = app.key
		return nil, rej.claimedBy(&claims)
	}
	if rej := v.claimNonce(ctx, a); rej != nil {
		rej.Claimed = Unverified{ApplicationKey: a.ApplicationKey, HMSApplicationID: a.HMSApplicationID, NonceSHA256: NonceHash(a.Nonce)}
		return nil, rej
	}
	return a, nil
}

// checkShape is the cheap pre-parse gate: a size bound, and no CR or LF.
// Strict base64url decoding refuses every other byte outside the alphabet
// (and every segment is decoded, or matched exactly against a header that
// was), but Go's decoder skips CR and LF even in strict mode, which would
// give one signature several accepted spellings. Two vectorised byte
// searches cost less than a check of each byte.
func checkShape(s string) *Error {
	if len(s) > MaxAssertionSize {
		return reject(ReasonMalformed, fmt.Sprintf("assertion is %d bytes, more than %d", len(s), MaxAssertionSize))
	}
	if i := max(strings.IndexByte(s, '\r'), strings.IndexByte(s, '\n')); i >= 0 {
		return reject(ReasonMalformed, "line breaks are not allowed in an assertion")
	}
	return nil
}

// verify splits the assertion, checks its header, verifies its signature
// with the keys the header selects and only then decodes the payload into
// p, so the claims the checks read come from a holder of the secret (an
// unverified payload is decoded only to name the reason of the refusal),
// and a header already seen is not decoded again (see headerCache). Only
// after verify returns without error may p be trusted; it returns iat,
// which the kid check has read.
func (v *Validator) verify(assertion string, today int64, p *payload) (*application, time.Time, *Error) {
	jws, ok := splitCompact(assertion)
	if !ok {
		return nil, time.Time{}, reject(ReasonMalformed, "not a compact JWS of three dot-separated segments")
	}
	h, cached, rej := v.header(jws.header)
	if rej != nil {
		return nil, time.Time{}, rej
	}
	app, iat, rej := v.verifyWith(h, cached, jws, today, p)
	if rej != nil {
		rej.Claimed.ApplicationKey = h.app.key
	}
	return app, iat, rej
}

// verifyWith is verify once the header h is checked.
func (v *Validator) verifyWith(h *joseHeader, cached bool, jws compactJWS, today int64, p *payload) (*application, time.Time, *Error) {
	sig, err := v.parser.DecodeSegment(jws.signature)
	if err != nil {
		return nil, time.Time{}, reject(ReasonMalformed, "signature is not strictly encoded base64url")
	}
	if !anyVerifies(h.app.signingKeys(h.kid, today), jws.signingInput, sig) {
		return nil, time.Time{}, v.explainBadSignature(h, jws, p)
	}
	if !cached {
		v.headers.remember(jws.header, h)
	}
	if rej := v.decodePayload(jws.payload, p); rej != nil {
		return nil, time.Time{}, rej
	}
	iat, rej := checkKeyDay(h, p)
	if rej != nil {
		return nil, time.Time{}, rej
	}
	return h.app, iat, nil
}

// explainBadSignature names why an assertion whose signature did not verify
// is refused. A payload that is not JSON, lacks iat or dates the kid far
// from iat is reported as such, as golang-jwt's parse-then-verify order
// did; anything else is a bad signature. This runs on refusals only; the
// claims it decodes into p name, unverified, who the refused caller claims
// to be (Error.Claimed).
func (v *Validator) explainBadSignature(h *joseHeader, jws compactJWS, p *payload) *Error {
	if rej := v.decodePayload(jws.payload, p); rej != nil {
		*p = payload{} // a payload that is not JSON claims nothing
		return rej
	}
	if _, rej := checkKeyDay(h, p); rej != nil {
		return rej
	}
	return reject(ReasonSignature, "signature does not verify with any configured secret of application "+quote.Text(h.app.key, maxQuoted))
}

// claimNonce records the nonce for as long as the assertion could still be
// accepted (exp + skew). A store failure fails closed.
func (v *Validator) claimNonce(ctx context.Context, a *Assertion) *Error {
	fresh, err := v.replay.Claim(ctx, a.ApplicationKey, a.Nonce, a.ExpiresAt.Add(v.skew))
	if err != nil {
		return &Error{Reason: ReasonReplayStore, Detail: "replay store could not record the nonce", cause: err}
	}
	if !fresh {
		return reject(ReasonReplay, "nonce with SHA-256 prefix "+NonceHash(a.Nonce)+" was already used by application "+quote.Text(a.ApplicationKey, maxQuoted))
	}
	return nil
}
