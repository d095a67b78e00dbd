package sinchauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// sinchPayload is a payload as Sinch writes it (Mint's member order).
const sinchPayload = `{"aud":"https://auth.example.com/token","exp":1710072600,"iat":1710072000,` +
	`"iss":"//rtc.sinch.com/applications/0b1c2d3e","nonce":"6b2f0e4a-1c3d","scope":"https://push-api.cloud.huawei.com",` +
	`"sinch:rtc:application_key":"0b1c2d3e","sub":"101234567"}`

func TestScanFlatObjectReadsSinchPayload(t *testing.T) {
	var p payload
	if !scanFlatObject([]byte(sinchPayload), &p) {
		t.Fatal("a Sinch payload took the slow path")
	}
	want := map[string]string{
		"iss": `"//rtc.sinch.com/applications/0b1c2d3e"`, "sub": `"101234567"`, "aud": `"https://auth.example.com/token"`,
		"scope": `"https://push-api.cloud.huawei.com"`, claimAppKey: `"0b1c2d3e"`,
		"iat": "1710072000", "exp": "1710072600", "nonce": `"6b2f0e4a-1c3d"`,
	}
	for name, raw := range want {
		if got := *p.claim(name); string(got) != raw {
			t.Errorf("%s = %s, want %s", name, got, raw)
		}
	}
	if p.Nbf != nil {
		t.Errorf("nbf = %s, want absent", p.Nbf)
	}
}

// TestScanFlatObjectDefers lists inputs the one-pass scanner must leave to
// encoding/json: every invalid JSON it could stumble on, and valid JSON
// outside its plain subset.
func TestScanFlatObjectDefers(t *testing.T) {
	for _, in := range []string{
		``, ` `, `null`, `[]`, `"iss"`, `{`, `}`, `{"iss"}`, `{"iss":}`, `{"iss":"a"`, `{"iss":"a",}`,
		`{"iss":"a" "sub":"b"}`, `{"iss":"a"}x`, `{"iss":"a"}{}`, `{,}`, `{"iss":'a'}`, `{iss:"a"}`,
		`{"iss":"a\"b"}`, `{"iss":"\u0061"}`, `{"\u0069ss":"a"}`, "{\"iss\":\"caf\xc3\xa9\"}", "{\"iss\":\"\xff\"}",
		"{\"iss\":\"a\tb\"}", `{"iss":null}`, `{"iss":true}`, `{"iss":false}`, `{"aud":["a"]}`, `{"x":{"y":1}}`,
		`{"iat":01}`, `{"iat":1.}`, `{"iat":.5}`, `{"iat":-}`, `{"iat":+1}`, `{"iat":1e}`, `{"iat":1e+}`,
		`{"iat":0x10}`, `{"iat":NaN}`, `{"iat":1_000}`,
	} {
		var p payload
		if scanFlatObject([]byte(in), &p) {
			t.Errorf("scanFlatObject(%q) = true, want false", in)
		}
	}
}

// TestDecodePayloadLikeAMap pins the general path's map semantics, which the
// fast path shares: exact names, the last of repeated names, escapes
// unescaped, null kept as a value of the wrong type.
func TestDecodePayloadLikeAMap(t *testing.T) {
	v := newFixture(t).v
	for _, c := range []struct {
		in, iss string
		ok      bool
	}{
		{`{"iss":"a"}`, "a", true},
		{`{"ISS":"a"}`, "", false},
		{`{"iss":"a","iss":"b"}`, "b", true},
		{`{"iss":"a", "x":{"iss":"nested"}, "iss" : "b" }`, "b", true},
		{`{"\u0069ss":"\u002f\u002f"}`, "//", true},
		{`{"iss":null}`, "", false},
		{`{"iss":5}`, "", false},
		{"{\"iss\":\"caf\xc3\xa9\"}", "café", true},
		{`{}`, "", false},
		{`null`, "", false},
	} {
		p := new(payload)
		if rej := v.decodePayload(base64.RawURLEncoding.EncodeToString([]byte(c.in)), p); rej != nil {
			t.Fatalf("%s: %v", c.in, rej)
		}
		if iss, ok := jsonString(p.Iss); iss != c.iss || ok != c.ok {
			t.Errorf("%s: iss = %q, %v; want %q, %v", c.in, iss, ok, c.iss, c.ok)
		}
	}
	if _, present, _ := numericDate(mustPayload(t, v, `{"nbf":null}`).Nbf); !present {
		t.Error("nbf null read as absent: it must be refused as not a NumericDate")
	}
	for _, in := range []string{`[]`, `"x"`, `{`, `{"iss":"a"}x`} {
		if rej := v.decodePayload(base64.RawURLEncoding.EncodeToString([]byte(in)), new(payload)); rej == nil || rej.Reason != ReasonMalformed {
			t.Errorf("%s: %v, want %s", in, rej, ReasonMalformed)
		}
	}
}

func mustPayload(t *testing.T, v *Validator, in string) *payload {
	t.Helper()
	p := new(payload)
	if rej := v.decodePayload(base64.RawURLEncoding.EncodeToString([]byte(in)), p); rej != nil {
		t.Fatalf("%s: %v", in, rej)
	}
	return p
}

// FuzzScanFlatObject holds the one-pass scanner to encoding/json: whatever
// it accepts must be valid JSON that the general (map) decoding reads to
// exactly the same claims.
func FuzzScanFlatObject(f *testing.F) {
	f.Add([]byte(sinchPayload))
	for _, s := range []string{`{}`, ` { "iss" : "a" , "iat" : -0.5e+3 } `, `{"iss":"a","iss":"b"}`,
		`{"aud":["a"]}`, `{"iat":01}`, `{"x":"\u0041"}`, "{\"iss\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast payload
		if !scanFlatObject(data, &fast) {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var general payload
		if err := decodePayloadJSON(data, &general); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		for _, name := range []string{"iss", "sub", "aud", "scope", claimAppKey, "iat", "exp", "nbf", "nonce"} {
			a, b := *fast.claim(name), *general.claim(name)
			if !bytes.Equal(a, b) || (a == nil) != (b == nil) {
				t.Fatalf("%q: %s is %q, encoding/json reads %q", data, name, a, b)
			}
			if s, ok := jsonString(a); ok && strings.ContainsAny(s, "\\\"") {
				t.Fatalf("%q: %s kept an escape or quote: %q", data, name, s)
			}
		}
	})
}
