package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestTLS: a redis-server that speaks TLS only, with a certificate from a
// CA made by the test. ca_file verifies it; another CA fails closed with
// an error that names the cause and never the password.
func TestTLS(t *testing.T) {
	ca := redistest.NewCA(t, "sinch-hms test CA")
	pw := redistest.Passwords[2]
	srv := redistest.Start(t, redistest.Options{Password: pw, TLS: ca.ServerTLS(t, "redis.test")})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	url := "redis://" + srv.Addr + "/0"

	certFile, keyFile := ca.ClientCert(t)
	good := []Options{
		{URL: url, Password: pw, TLS: &TLSOptions{CAFile: ca.CertFile}},
		{URL: url, Password: pw, TLS: &TLSOptions{CAFile: ca.CertFile, ServerName: "redis.test"}},
		{URL: url, Password: pw, TLS: &TLSOptions{CAFile: ca.CertFile, CertFile: certFile, KeyFile: keyFile}},
	}
	for i, o := range good {
		s := o.NewReplayStore(optionsClient(t, o), nil)
		if ok, err := s.Claim(ctx, appKey, "tls-nonce", until); err != nil || ok != (i == 0) {
			t.Fatalf("options #%d: claim over TLS = %v, %v; want fresh once, then taken", i, ok, err)
		}
	}
	checkTokenShared(t, "tls", optionsClient(t, good[0]), optionsClient(t, good[1]))

	// The wrong CA, and the right CA for the wrong name: refused, with the
	// cause, never with the password; and not a replay.
	other := redistest.NewCA(t, "another CA")
	for _, tc := range []struct {
		tls  *TLSOptions
		want string
	}{
		{&TLSOptions{CAFile: other.CertFile}, "x509: certificate signed by unknown authority"},
		{&TLSOptions{CAFile: ca.CertFile, ServerName: "other.test"}, "x509: certificate is valid for redis.test"},
		{nil, ""}, // plain text to a TLS port: an error of some kind
	} {
		o := Options{URL: url, Password: pw, TLS: tc.tls}
		s := o.NewReplayStore(optionsClient(t, o), nil)
		ok, err := s.Claim(ctx, appKey, "tls-refused", until)
		if ok || err == nil {
			t.Fatalf("claim with %+v = %v, %v; want an error (fail closed)", tc.tls, ok, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("claim with %+v: %v; want the cause %q", tc.tls, err, tc.want)
		}
		if at := redistest.Leak(err.Error(), pw); at >= 0 {
			t.Errorf("the TLS error shows the password's bytes from %d on", at)
		}
	}

	// insecure_skip_verify: explicit, and loudly logged.
	core, logs := observer.New(zapcore.WarnLevel)
	o := Options{URL: url, Password: pw, TLS: &TLSOptions{CAFile: other.CertFile, InsecureSkipVerify: true}}
	c, err := o.NewClient(zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, err := o.NewReplayStore(c, nil).Claim(ctx, appKey, "tls-insecure", until); err != nil || !ok {
		t.Errorf("claim with insecure_skip_verify = %v, %v; want fresh", ok, err)
	}
	if n := logs.FilterMessageSnippet("insecure_skip_verify is on").Len(); n != 1 {
		t.Errorf("%d warnings about insecure_skip_verify, want 1", n)
	}
	for _, e := range logs.All() {
		if redistest.Leak(e.Message+strings.Join(fieldStrings(e), " "), pw) >= 0 {
			t.Errorf("the warning shows the password")
		}
	}
}
