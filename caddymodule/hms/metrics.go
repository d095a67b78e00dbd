package hms

import "github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"

// meter counts sinch_hms's requests by flow (client_assertion, bearer,
// none) and outcome, and its refusals by reason:
// caddy_sinch_hms_requests_total and caddy_sinch_hms_rejections_total. The
// Huawei series are huawei's (see huawei.go).
var meter = endpoint.NewMeter(endpoint.HMS, "sinch_hms", "token request", "Token requests",
	endpoint.FlowClientAssertion, endpoint.FlowBearer, endpoint.FlowNone)
