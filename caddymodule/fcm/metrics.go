package fcm

import "github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"

// meter counts sinch_fcm's requests by outcome and its refusals by reason:
// caddy_sinch_fcm_requests_total and caddy_sinch_fcm_rejections_total.
var meter = endpoint.NewMeter(endpoint.FCM, "sinch_fcm", "FCM token request", "FCM token requests")

// google is Google as the glue shows it: metrics
// caddy_sinch_fcm_google_*, cache_requests_total and token_seconds_left,
// the admin API's fcm_projects and its answers when no token can be had.
var google = endpoint.NewKind(endpoint.Kind{
	Name:        "Google",
	Noun:        "Firebase project",
	IDDesc:      "Firebase project number",
	IDLabel:     "fcm_project",
	IDField:     "fcm_project_number",
	StatusKey:   "fcm_projects",
	QueryParam:  "fcm_project",
	Credentials: "service-account key",
	Fix:         "check the key file",
	Rejected:    endpoint.GoogleRejected,
	Unavailable: endpoint.GoogleUnavailable,
}, "sinch_fcm", "google")
