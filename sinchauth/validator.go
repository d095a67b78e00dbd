package sinchauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	parser      *jwt.Parser
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
		// Claims validation is ours (one injected clock for every check);
		// golang-jwt does the compact-JWS parsing, strict base64url, the alg
		// allow-list and the constant-time HMAC comparison.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{algorithm}),
			jwt.WithStrictDecoding(),
			jwt.WithJSONNumber(),
			jwt.WithoutClaimsValidation(),
		),
	}
	if v.now == nil {
		v.now = time.Now
	}
	for key, secrets := range cfg.Applications {
		app := &application{key: key}
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
	if cfg.ClockSkew < 0 {
		return errors.New("sinchauth: the clock skew must not be negative")
	}
	return nil
}

// Validate checks a compact JWS client assertion. audiences = the accepted aud
// values (the caller passes the configured list, or the request's own URL).
// On success the nonce has been claimed in the replay store.
//
// Every failure is an *Error (see ReasonOf). The order is: size and
// alphabet, JWS structure and alg, header (crit, application, kid vs iat),
// signature, claims, and last the nonce, so a rejected assertion never
// records one.
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
	app, claims, rej := v.verify(assertion, epochDay(now))
	if rej != nil {
		return nil, rej
	}
	a, rej := v.checkClaims(app, claims, audiences, now)
	if rej != nil {
		return nil, rej
	}
	if rej := v.claimNonce(ctx, a); rej != nil {
		return nil, rej
	}
	return a, nil
}

// checkShape is the cheap pre-parse gate: a size bound and the base64url
// alphabet plus dots. The alphabet check closes a gap in strict decoding:
// Go's base64 decoder skips CR and LF even in strict mode, which would give
// one signature several accepted spellings.
func checkShape(s string) *Error {
	if len(s) > MaxAssertionSize {
		return reject(ReasonMalformed, fmt.Sprintf("assertion is %d bytes, more than %d", len(s), MaxAssertionSize))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return reject(ReasonMalformed, fmt.Sprintf("byte %d is not base64url (padding and whitespace are not allowed)", i))
		}
	}
	return nil
}

// verify parses the assertion and verifies its signature with the keys the
// header selects. Only after it returns without error may the claims be
// trusted.
func (v *Validator) verify(assertion string, today int64) (*application, map[string]any, *Error) {
	claims := jwt.MapClaims{}
	var app *application
	keyFunc := func(t *jwt.Token) (any, error) {
		a, keys, rej := v.verificationKeys(t, claims, today)
		if rej != nil {
			return nil, rej
		}
		app = a
		set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, 0, len(keys))}
		for _, k := range keys {
			if len(k) != 0 { // never verify with an empty key
				set.Keys = append(set.Keys, k)
			}
		}
		return set, nil
	}
	tok, err := v.parser.ParseWithClaims(assertion, claims, keyFunc)
	if err != nil {
		return nil, nil, classifyParseError(tok, err, app)
	}
	return app, claims, nil
}

// classifyParseError maps golang-jwt's errors (and ours, returned through the
// key function) to a Reason.
func classifyParseError(tok *jwt.Token, err error, app *application) *Error {
	var rej *Error
	if errors.As(err, &rej) {
		return rej
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject(ReasonMalformed, "not a strictly encoded compact JWS with JSON header and payload")
	case tok != nil && tok.Header == nil: // the header was JSON null
		return reject(ReasonMalformed, "JOSE header is not a JSON object")
	case tok != nil && (tok.Method == nil || tok.Method.Alg() != algorithm):
		// Unknown, missing, or known-but-not-allowed alg (none, HS512, RS256...).
		return reject(ReasonAlgorithm, "alg must be HS256")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && app != nil:
		return reject(ReasonSignature, "signature does not verify with any configured secret of application "+quote(app.key))
	default:
		return reject(ReasonMalformed, "assertion could not be parsed")
	}
}

// claimNonce records the nonce for as long as the assertion could still be
// accepted (exp + skew). A store failure fails closed.
func (v *Validator) claimNonce(ctx context.Context, a *Assertion) *Error {
	fresh, err := v.replay.Claim(ctx, a.ApplicationKey, a.Nonce, a.ExpiresAt.Add(v.skew))
	if err != nil {
		return &Error{Reason: ReasonReplayStore, Detail: "replay store could not record the nonce", cause: err}
	}
	if !fresh {
		return reject(ReasonReplay, "nonce with SHA-256 prefix "+NonceHash(a.Nonce)+" was already used by application "+quote(a.ApplicationKey))
	}
	return nil
}
