// Package redisha holds process-level tests of the Redis stores: two
// built Caddy processes (./cmd/caddy) sharing a Sentinel group, a Redis
// Cluster or a TLS Redis started by the tests (real redis-server
// processes, internal/redistest), against the Huawei emulator. The
// primary is SIGKILLed, the processes are killed and restarted; the tests
// print what they measure. The chaos soak runs with SINCH_HMS_CHAOS set
// (a duration, e.g. 45s). It has no non-test code.
//
// Ports: Caddy's admin API on localhost:3320-3321 and HTTP on
// 127.0.0.1:9620-9621 (SINCH_HMS_TEST_HA_ADMIN_PORT and
// SINCH_HMS_TEST_HA_HTTP_PORT move them); Redis groups on 9640-9699
// (redistest's range for this test binary), single servers on
// redistest's shared range.
package redisha
