package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/caddyproc"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Ports of the built-binary tests: two Caddy processes of their own.
var (
	procAdmin = [2]int{3310, 3311}
	procHTTP  = [2]int{9610, 9611}
)

// TestBuiltCaddy runs ./cmd/caddy, built once, as separate processes: the
// signing-key rotation across two instances reloaded one after the other,
// and the guess rate an attacker gets. SINCH_HMS_OLD_CADDY, if set, is a
// Caddy built from an earlier commit whose guess rate is measured too
// (the "before" figure).
func TestBuiltCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/caddy and runs two Caddy processes; skipped with -short")
	}
	bin := caddyproc.Build(t, "../..") // the module root
	t.Run("rotation", func(t *testing.T) { testRotation(t, bin) })
	t.Run("guess rate", func(t *testing.T) {
		g := measureGuesses(t, bin, 0)
		if g.compared > 10+int(guessFor/time.Second)+3 || g.limited == 0 {
			t.Errorf("%d wrong secrets compared and %d refused uncompared in %v: the limit does not hold", g.compared, g.limited, guessFor)
		}
		if g.sinchOK != g.sinchTotal || g.sinchTotal == 0 {
			t.Errorf("Sinch's correct secret from another address: %d of %d answered 200", g.sinchOK, g.sinchTotal)
		}
		if old := os.Getenv("SINCH_HMS_OLD_CADDY"); old != "" {
			measureGuesses(t, old, 1)
		}
	})
}

// procGlobal is the global block of process i.
func procGlobal(i int) string {
	return fmt.Sprintf("{\n\tadmin localhost:%d\n\thttp_port %d\n\thttps_port %d\n\tauto_https off\n\tgrace_period 1s\n\tpersist_config off\n}\n",
		procAdmin[i], procHTTP[i], procHTTP[i]+2)
}

const rotationIssuer = "https://as.rotation.test"

// rotationConfig is process i at one step of the rotation: the embedded
// AS signing with keys[0] and serving all, and sinch_hms verifying its
// tokens (Alt A) with the public halves of the same keys.
func rotationConfig(i int, keys []harness.ASKeys, huaweiURL string) string {
	var signing, public strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&signing, "\t\t\tsigning_key %s\n", k.PrivPath)
		fmt.Fprintf(&public, "\t\t\t\tpublic_key %s\n", k.PubPath)
	}
	return procGlobal(i) + fmt.Sprintf(`http://localhost:%d {
	route %s {
		sinch_oauth_server {
			client %s %s
%s			issuer %s
		}
	}
	route %s {
		sinch_hms {
			bearer {
%s				issuer %s
				audience %s
				scope %s
			}
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, procHTTP[i], harness.ASPath, harness.ClientID, harness.ClientSecret, signing.String(), rotationIssuer,
		harness.TokenPath, public.String(), rotationIssuer, rotationIssuer, sinchauth.HuaweiPushScope,
		harness.HMSAppID, harness.HMSAppSecret, huaweiURL)
}

// issuedToken is a token of the rotation test, with where and under which
// key it was issued.
type issuedToken struct {
	tok, by, kid, when string
}

// testRotation walks [old] → [old,new] → [new,old] → [new], reloading
// instance A then instance B at each step. After every reload both AS
// instances issue a token and both verifiers check every token issued so
// far: a fresh token must pass everywhere; an earlier one may be refused
// only by a verifier that no longer holds its key.
func testRotation(t *testing.T, bin string) {
	emu := harness.NewHuawei(t)
	oldKey, newKey := harness.NewASKeys(t), harness.NewASKeys(t)
	name := map[string]string{oauthserver.Thumbprint(oldKey.Pub): "old", oauthserver.Thumbprint(newKey.Pub): "new"}
	steps := []struct {
		label string
		keys  []harness.ASKeys
	}{
		{"[old]", []harness.ASKeys{oldKey}},
		{"[old,new]", []harness.ASKeys{oldKey, newKey}},
		{"[new,old]", []harness.ASKeys{newKey, oldKey}},
		{"[new]", []harness.ASKeys{newKey}},
	}
	var procs [2]*caddyproc.Process
	at := [2]int{} // the step each instance is at
	for i := range procs {
		procs[i] = caddyproc.Start(t, bin, "instance "+string("AB"[i]), rotationConfig(i, steps[0].keys, emu.URL), procAdmin[i], "")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	// A reload's old server, shutting down after /load has answered,
	// closes a connection it accepted without reading the request: the
	// client sees EOF before any handler ran, and sends again (as Sinch
	// does). Such retries are counted, never taken for a refusal.
	retries := 0
	post := func(target, body string, headers ...string) harness.Answer {
		t.Helper()
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				if attempt < 3 {
					retries++
					time.Sleep(50 * time.Millisecond)
					continue
				}
				t.Fatalf("POST %s: %v", target, err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			a := harness.Answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
			_ = json.Unmarshal(raw, &a.Body)
			return a
		}
	}
	var issued []issuedToken
	check := func(when string) {
		t.Helper()
		var line strings.Builder
		fmt.Fprintf(&line, "%-28s", when+":")
		for i := range procs {
			a := post(fmt.Sprintf("http://localhost:%d%s", procHTTP[i], harness.ASPath),
				harness.ClientCredentials(sinchauth.HuaweiPushScope).Encode())
			tok := a.WantToken(t)
			kid := tokenKID(t, tok)
			issued = append(issued, issuedToken{tok: tok, by: "AB"[i : i+1], kid: name[kid], when: when})
			fmt.Fprintf(&line, " AS %c signs %s;", "AB"[i], name[kid])
		}
		fresh := len(issued) - 2
		for v := range procs {
			held := map[string]bool{}
			for _, k := range steps[at[v]].keys {
				held[name[oauthserver.Thumbprint(k.Pub)]] = true
			}
			var ok, refused []string
			for n, it := range issued {
				form := url.Values{"grant_type": {"client_credentials"}, "hms_application_id": {harness.HMSAppID}}
				a := post(fmt.Sprintf("http://localhost:%d%s", procHTTP[v], harness.TokenPath),
					form.Encode(), "Authorization", "Bearer "+it.tok)
				desc := it.by + "/" + it.kid
				switch {
				case a.Status == http.StatusOK:
					ok = append(ok, desc)
				case n >= fresh:
					t.Errorf("%s: verifier %c refuses the fresh token of AS %s (key %s): %d %s", when, "AB"[v], it.by, it.kid, a.Status, a.Raw)
				case held[it.kid]:
					t.Errorf("%s: verifier %c holds key %s yet refuses a token of AS %s issued at %q: %d %s", when, "AB"[v], it.kid, it.by, it.when, a.Status, a.Raw)
				default:
					refused = append(refused, desc+" (issued at "+it.when+")")
				}
			}
			fmt.Fprintf(&line, " verifier %c: %d accepted", "AB"[v], len(ok))
			if len(refused) > 0 {
				fmt.Fprintf(&line, ", refused %d whose key it dropped: %s", len(refused), strings.Join(refused, ", "))
			}
			line.WriteString(";")
		}
		t.Log(line.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("output of instance %c:\n%s", "AB"[i], p.Log())
			}
		}
	})
	check("start " + steps[0].label)
	for s := 1; s < len(steps); s++ {
		for i := range procs {
			procs[i].Load(rotationConfig(i, steps[s].keys, emu.URL))
			at[i] = s
			client.CloseIdleConnections()
			check(fmt.Sprintf("%s on %c", steps[s].label, "AB"[i]))
		}
	}
	t.Logf("requests sent again after a connection closed by a reload (no answer, no handler run): %d", retries)
}

// tokenKID is the kid of a JWT, unverified.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// guessFor is how long the attack of measureGuesses lasts.
const guessFor = 2 * time.Second

// guesses are the figures of one measurement.
type guesses struct {
	answers, compared, limited, other int
	sinchOK, sinchTotal               int
}

// measureGuesses runs bin as process i serving the AS and, for guessFor,
// fires wrong secrets from 127.0.0.2 over four connections while Sinch
// asks with the right one from 127.0.0.3 every 100ms.
func measureGuesses(t *testing.T, bin string, i int) guesses {
	keys := harness.NewASKeys(t)
	cfg := procGlobal(i) + fmt.Sprintf(`http://localhost:%d {
	route %s {
		sinch_oauth_server {
			client %s %s
			signing_key %s
			issuer https://as.guess.test
		}
	}
}
`, procHTTP[i], harness.ASPath, harness.ClientID, harness.ClientSecret, keys.PrivPath)
	p := caddyproc.Start(t, bin, "guess target", cfg, procAdmin[i], "")
	target := fmt.Sprintf("http://localhost:%d%s", procHTTP[i], harness.ASPath)
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext:         func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp4", a) },
			MaxIdleConnsPerHost: 8,
		}}
	}
	var g guesses
	var mu sync.Mutex
	deadline := time.Now().Add(guessFor)
	var wg sync.WaitGroup
	for w := range 4 {
		c := from("127.0.0.2")
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				form := harness.ClientCredentials("")
				form.Set("client_secret", fmt.Sprintf("wrong-guess-%d-%06d", w, n))
				a := harness.PostForm(t, c, target, form.Encode())
				mu.Lock()
				g.answers++
				switch a.Status {
				case http.StatusUnauthorized:
					g.compared++
				case http.StatusTooManyRequests:
					g.limited++
				default:
					g.other++
				}
				mu.Unlock()
			}
		})
	}
	sinch := from("127.0.0.3")
	for time.Now().Before(deadline) {
		a := harness.PostForm(t, sinch, target, harness.ClientCredentials(sinchauth.HuaweiPushScope).Encode())
		g.sinchTotal++
		if a.Status == http.StatusOK {
			g.sinchOK++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	secs := guessFor.Seconds()
	t.Logf("%s: %d answers to wrong secrets in %v from one address over 4 connections (%.0f/s): %d compared and refused 401 (%.1f guesses/s), %d refused 429 uncompared, %d other; Sinch's right secret from another address: %d of %d answered 200",
		bin, g.answers, guessFor, float64(g.answers)/secs, g.compared, float64(g.compared)/secs, g.limited, g.other, g.sinchOK, g.sinchTotal)
	if g.other > 0 {
		t.Logf("output of %s:\n%s", bin, p.Log())
	}
	return g
}
