package endpoint

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Refusal is one way a token request is refused: the reason label that
// names it in the log line, the rejections_total metric, --check and the
// troubleshooting table, and the HTTP status and OAuth 2.0 error code of
// the answer. Every refusal of the three modules is a value of the table
// below, so one reason always means one answer. Reason labels are a fixed
// set: request-controlled text never goes into one (it goes into the
// description).
type Refusal struct {
	Reason string
	Status int
	Code   string // the RFC 6749 §5.2 / RFC 6750 §3.1 error
	// Modules are the modules that can give it.
	Modules Module
}

// Module is a set of this plugin's HTTP handler modules.
type Module uint8

// The three modules.
const (
	HMS         Module = 1 << iota // sinch_hms
	FCM                            // sinch_fcm
	AuthServer                     // sinch_oauth_server
	allModules  = HMS | FCM | AuthServer
	bearerUsers = HMS | FCM // the modules that take Alt A bearer tokens
)

// New returns the answer of r, with a description for the operator (it
// never holds a secret, a token or an assertion).
func (r Refusal) New(format string, args ...any) *oauthresp.Error {
	e := oauthresp.NewError(r.Status, r.Code, format, args...)
	e.Reason = r.Reason
	return e
}

// The refusals the glue decides itself. The assertion checks, the bearer
// checks and the Authorization Server have theirs in sinchauth, bearerauth
// and oauthserver; Assertion, Bearer and the table give them their answers.
var (
	MethodNotAllowed       = define("method_not_allowed", http.StatusMethodNotAllowed, oauthresp.ErrInvalidRequest, allModules)
	MalformedRequest       = define("malformed_request", http.StatusBadRequest, oauthresp.ErrInvalidRequest, allModules) // Content-Type, encoding, repeated or too many parameters
	BodyTooLarge           = define("body_too_large", http.StatusRequestEntityTooLarge, oauthresp.ErrInvalidRequest, allModules)
	MissingParameter       = define("missing_parameter", http.StatusBadRequest, oauthresp.ErrInvalidRequest, allModules)
	UnsupportedGrantType   = define("unsupported_grant_type", http.StatusBadRequest, oauthresp.ErrUnsupportedGrantType, allModules)
	BothCredentials        = define("both_credentials", http.StatusBadRequest, oauthresp.ErrInvalidRequest, allModules)
	NoCredentials          = define("no_credentials", http.StatusUnauthorized, oauthresp.ErrInvalidClient, allModules)
	RequestScope           = define("bad_request_scope", http.StatusBadRequest, oauthresp.ErrInvalidScope, allModules) // the scope parameter, not an assertion's claim
	AssertionType          = define("bad_assertion_type", http.StatusUnauthorized, oauthresp.ErrInvalidClient, HMS)
	AssertionNotConfigured = define("assertion_not_configured", http.StatusUnauthorized, oauthresp.ErrInvalidClient, HMS)
	AssertionNotAccepted   = define("client_assertion_not_accepted", http.StatusBadRequest, oauthresp.ErrInvalidRequest, FCM)
	BearerNotConfigured    = define("bearer_not_configured", http.StatusUnauthorized, oauthresp.ErrInvalidClient, HMS)
	MissingHMSAppID        = define("missing_hms_application_id", http.StatusBadRequest, oauthresp.ErrInvalidRequest, HMS)
	UnknownHMSApp          = define(string(sinchauth.ReasonUnknownHMSApp), http.StatusBadRequest, oauthresp.ErrUnauthorizedClient, HMS)
	MissingFCMProject      = define("missing_fcm_project_number", http.StatusBadRequest, oauthresp.ErrInvalidRequest, FCM)
	UnknownFCMProject      = define("unknown_fcm_project", http.StatusBadRequest, oauthresp.ErrUnauthorizedClient, FCM)
	HuaweiRejected         = define("huawei_rejected", http.StatusBadGateway, oauthresp.ErrServerError, HMS)
	HuaweiUnavailable      = define("huawei_unavailable", http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable, HMS)
	GoogleRejected         = define("google_rejected", http.StatusBadGateway, oauthresp.ErrServerError, FCM)
	GoogleUnavailable      = define("google_unavailable", http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable, FCM)
	// BearerRejected is a bearer refusal bearerauth gave no reason for.
	BearerRejected = define("bearer_rejected", http.StatusUnauthorized, oauthresp.ErrInvalidToken, bearerUsers)
	// Other labels an error whose reason is not in the table, so that a
	// forgotten one can never widen the label set (a test keeps it unused).
	Other = define("other", http.StatusUnauthorized, oauthresp.ErrInvalidClient, allModules)
)

// bearerPrefix marks bearerauth's reasons, which share names
// (bad_signature, expired...) with sinchauth's.
const bearerPrefix = "bearer_"

// table is every refusal, in order of definition.
var table []Refusal

func define(reason string, status int, code string, m Module) Refusal {
	r := Refusal{Reason: reason, Status: status, Code: code, Modules: m}
	table = append(table, r)
	return r
}

// The refusals of the plain-Go checks, with their answers.
var (
	assertionRefusals = map[sinchauth.Reason]Refusal{}
	bearerRefusals    = map[bearerauth.Reason]Refusal{}
)

func init() {
	for _, r := range sinchauth.Reasons() {
		switch r {
		case sinchauth.ReasonUnknownHMSApp:
			assertionRefusals[r] = UnknownHMSApp // the same label as Alt A's unknown hms_application_id
		case sinchauth.ReasonReplayStore:
			assertionRefusals[r] = define(string(r), http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable, HMS)
		default:
			assertionRefusals[r] = define(string(r), http.StatusUnauthorized, oauthresp.ErrInvalidClient, HMS)
		}
	}
	for _, r := range bearerauth.Reasons() {
		status, code := http.StatusUnauthorized, oauthresp.ErrInvalidToken
		if r == bearerauth.ReasonIntrospection || r == bearerauth.ReasonIntrospectionThrottled {
			status, code = http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable
		}
		bearerRefusals[r] = define(bearerPrefix+string(r), status, code, bearerUsers)
	}
	// The Authorization Server's own refusals; those it shares with the
	// other modules (no_credentials, missing_parameter...) are defined above.
	for _, r := range oauthserver.Reasons() {
		i := slices.IndexFunc(table, func(d Refusal) bool { return d.Reason == string(r.Reason) })
		if i < 0 {
			define(string(r.Reason), r.Status, r.Code, AuthServer)
			continue
		}
		table[i].Modules |= AuthServer
	}
	slices.SortStableFunc(table, func(a, b Refusal) int { return strings.Compare(a.Reason, b.Reason) })
}

// All returns every refusal, sorted by reason.
func All() []Refusal { return slices.Clone(table) }

// Of returns the refusals module m can give, sorted by reason.
func Of(m Module) []Refusal {
	var out []Refusal
	for _, r := range table {
		if r.Modules&m != 0 {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the refusal with the given reason label.
func Lookup(reason string) (Refusal, bool) {
	i, found := slices.BinarySearchFunc(table, reason, func(r Refusal, reason string) int { return strings.Compare(r.Reason, reason) })
	if !found {
		return Refusal{}, false
	}
	return table[i], true
}

// label is the metric label of oerr: its reason if the table has it, else
// "other".
func label(oerr *oauthresp.Error) string {
	if _, ok := Lookup(oerr.Reason); ok {
		return oerr.Reason
	}
	return Other.Reason
}

// Assertion returns the answer to an assertion sinchauth refused: an HMS
// application that is not configured here is unauthorized_client, a replay
// store that cannot answer is temporarily_unavailable (fail closed), any
// other failure is invalid_client with the reason in the description.
func Assertion(err error) *oauthresp.Error {
	var ae *sinchauth.Error
	if !errors.As(err, &ae) {
		return Other.New("client assertion rejected")
	}
	r := assertionRefusals[ae.Reason]
	switch r {
	case UnknownHMSApp:
		return r.New("%s", ae.Detail)
	case Refusal{}:
		return Other.New("client assertion rejected")
	}
	if r.Status == http.StatusServiceUnavailable {
		e := r.New("the replay store cannot be reached; try again")
		e.RetryAfter = RetryAfterReplayStore
		return e
	}
	return r.New("client assertion rejected (%s): %s", ae.Reason, ae.Detail)
}

// FormError labels an error of oauthresp.ParseForm, which knows nothing of
// reasons.
func FormError(oerr *oauthresp.Error) *oauthresp.Error {
	r := MalformedRequest
	if oerr.Status == http.StatusRequestEntityTooLarge {
		r = BodyTooLarge
	}
	oerr.Reason = r.Reason
	return oerr
}
