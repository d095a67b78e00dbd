package oauthresp

import (
	"bytes"
	"sync"
	"testing"
)

// sameArray reports whether a and b share their backing array: proof that
// the second answer was not encoded again.
func sameArray(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func TestTokenBodyCacheReusesEncoding(t *testing.T) {
	var c TokenBodyCache
	first, err := c.Body("CF+/abc==", 3599)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := TokenBody("CF+/abc==", 3599)
	if !bytes.Equal(first, want) {
		t.Fatalf("body %s, want %s", first, want)
	}
	again, _ := c.Body("CF+/abc==", 3599)
	if !sameArray(first, again) {
		t.Errorf("same token and expires_in encoded twice")
	}
}

func TestTokenBodyCacheFollowsChanges(t *testing.T) {
	var c TokenBodyCache
	first, _ := c.Body("CF+/abc==", 3599)
	for _, tc := range []struct {
		token string
		in    int64
	}{{"CF+/abc==", 3598}, {"CF+/new==", 3598}, {"CF+/abc==", 3599}} {
		got, err := c.Body(tc.token, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := TokenBody(tc.token, tc.in)
		if !bytes.Equal(got, want) {
			t.Errorf("Body(%q, %d) = %s, want %s", tc.token, tc.in, got, want)
		}
	}
	if again, _ := c.Body("CF+/abc==", 3599); !bytes.Equal(again, first) {
		t.Errorf("body changed for the same answer: %s vs %s", again, first)
	}
}

func TestTokenBodyCacheConcurrent(t *testing.T) {
	var c TokenBodyCache
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				in := int64(3600 - (g+i)%3)
				got, err := c.Body("CF+/tok==", in)
				want, _ := TokenBody("CF+/tok==", in)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("Body(%d) = %s, %v; want %s", in, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
