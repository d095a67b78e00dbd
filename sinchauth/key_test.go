package sinchauth

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDecodeSecret(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xbf, 0x01}
	for _, in := range []string{"+/+/AQ==", "+/+/AQ", " +/+/AQ==\n"} {
		got, err := DecodeSecret(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DecodeSecret(%q) = %x, %v", in, got, err)
		}
	}
}

func TestDecodeSecretErrors(t *testing.T) {
	for _, in := range []string{"", "   ", "==", "-_-_AQ", "abc$def", "+/+/AQ=", "+/+/A", "+/+/AQ==="} {
		_, err := DecodeSecret(in)
		if err == nil {
			t.Errorf("DecodeSecret(%q) accepted", in)
			continue
		}
		if strings.TrimSpace(in) != "" && strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("error for %q contains the secret: %v", in, err)
		}
	}
}

func TestKeyID(t *testing.T) {
	// 23:30 at UTC-5 is the next day in UTC.
	tz := time.FixedZone("EST", -5*3600)
	if got := KeyID(time.Date(2024, 12, 31, 23, 30, 0, 0, tz)); got != "hkdfv1-20250101" {
		t.Errorf("KeyID = %s", got)
	}
}

func TestParseKeyID(t *testing.T) {
	k, ok := parseKeyID("hkdfv1-19700102")
	if !ok || k.day != "19700102" || k.date != 1 {
		t.Errorf("parseKeyID = %+v, %v", k, ok)
	}
	if _, ok := parseKeyID("hkdfv1-20230229"); ok {
		t.Error("accepted 29 February 2023")
	}
	if k, ok := parseKeyID("hkdfv1-19691231"); !ok || k.date != -1 {
		t.Errorf("pre-epoch day = %+v, %v", k, ok)
	}
}

func TestDerivedKeyCacheIsBounded(t *testing.T) {
	app := &application{key: "k", secrets: [][]byte{testSecret}}
	today := epochDay(testNow)
	for d := -40; d <= 40; d++ {
		kid, _ := parseKeyID(KeyID(testNow.AddDate(0, 0, d)))
		ks := app.signingKeys(kid, today)
		if !bytes.Equal(ks[0].key, DeriveSigningKey(testSecret, kid.day)) {
			t.Fatalf("day %d: wrong key", d)
		}
	}
	if n := len(*app.keys.Load()); n > 2*cacheWindowDays+1 {
		t.Errorf("cache holds %d days", n)
	}
	// Days move on: old entries are dropped on the next insertion.
	tomorrow := today + 3
	kid, _ := parseKeyID(KeyID(testNow.AddDate(0, 0, 3)))
	app.signingKeys(kid, tomorrow)
	for d := range *app.keys.Load() {
		if abs64(d-tomorrow) > cacheWindowDays {
			t.Errorf("stale day %d kept", d)
		}
	}
}
