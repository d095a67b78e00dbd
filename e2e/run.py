#!/usr/bin/env python3
"""Black-box end-to-end checks of a built Caddy with caddy-sinch-hms.

Usage:  go build -o /tmp/e2e-caddy ./cmd/caddy && python3 e2e/run.py [/tmp/e2e-caddy]

Loopback only, ports 9300-9349 (stub 9301, admin 9302, HTTP 9310, validate
admin 9303). Exits non-zero if any check fails. Bounded in time (~2 min).
Needs python3 with `cryptography` (for RS256/EdDSA signing) and openssl.
"""
import base64, hashlib, hmac, json, os, re, socket, subprocess, sys, threading, time
import urllib.parse, http.client, uuid, datetime
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

CADDY = sys.argv[1] if len(sys.argv) > 1 else "/tmp/e2e-caddy"
WORK = "/tmp/e2e-run"
os.makedirs(WORK, exist_ok=True)
STUB = 9301
ADMIN = 9302
HTTP = 9310
BASE = f"http://127.0.0.1:{HTTP}"

FAILS = []
PASSES = []


def check(name, cond, detail=""):
    if cond:
        PASSES.append(name)
        print(f"PASS {name}")
    else:
        FAILS.append((name, detail))
        print(f"FAIL {name} :: {detail}")


# ---------------------------------------------------------------- secrets
APP_KEY = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
SINCH_SECRET = base64.b64encode(hashlib.sha256(b"e2e sinch").digest()[:16] + b"\xfb\xff").decode()  # has + or /
SINCH_SECRET_OLD = base64.b64encode(b"old-secret-xyz!!").decode()
APP_KEY2 = "22222222-aaaa-bbbb-cccc-123456789abc"
SINCH_SECRET2 = "ax8hTTQJF0OPXL32r1LHMA"  # unpadded in config
HMS_SECRET = "hms+secret/val=="  # contains + / =
HMS_SECRET_FILE = "file+secret/two=="
HUAWEI_TOKEN_PREFIX = "CV7+hms/tok"
PUSH_SCOPE = "https://push-api.cloud.huawei.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
OAUTH_CLIENT_SECRET = "oauth-client-secret-long-enough-1234"

# ---------------------------------------------------------------- stub
STATE = {"calls": {}, "mode": {}, "ttl": {}, "bodies": [], "google_calls": 0, "google_mode": "ok", "fwd": []}
LOCK = threading.Lock()
VALID = {"111": HMS_SECRET, "222": HMS_SECRET_FILE}
for a in ["333", "444", "555", "666", "777", "888", "999", "1010", "1111", "1212", "1313"]:
    VALID[a] = HMS_SECRET


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj, extra=None):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(b)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if self.path.startswith("/huawei/token"):
            f = urllib.parse.parse_qs(body, keep_blank_values=True)
            cid = f.get("client_id", [""])[0]
            with LOCK:
                STATE["calls"][cid] = STATE["calls"].get(cid, 0) + 1
                STATE["bodies"].append((cid, body, self.headers.get("Content-Type")))
                mode = STATE["mode"].get(cid, "ok")
                ttl = STATE["ttl"].get(cid, 3600)
                cnt = STATE["calls"][cid]
            if mode == "hang":
                time.sleep(60)
                return
            if mode == "delay":
                time.sleep(1.0)
            if mode == "429":
                return self.send(429, {"error": "too many"})
            if mode == "500":
                return self.send(500, {"error": "internal"})
            if mode == "503":
                return self.send(503, {"error": 1301, "error_description": "throttled"})
            if f.get("grant_type", [""])[0] != "client_credentials":
                return self.send(400, {"error": 1101, "sub_error": 20182, "error_description": "bad grant_type"})
            if cid not in VALID:
                return self.send(400, {"error": 1101, "sub_error": 20003, "error_description": "unknown client_id"})
            if mode == "reject_str":
                return self.send(400, {"error": "1101", "sub_error": "20173", "error_description": "invalid client_secret"})
            if mode == "badjson":
                b = b"<html>oops</html>"
                self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b); return
            if mode == "reject" or f.get("client_secret", [""])[0] != VALID[cid]:
                return self.send(400, {"error": 1101, "sub_error": 20173, "error_description": "invalid client_secret"})
            return self.send(200, {"access_token": f"{HUAWEI_TOKEN_PREFIX}{cid}n{cnt}==", "expires_in": ttl, "token_type": "Bearer"})
        if self.path.startswith("/google/token"):
            with LOCK:
                STATE["google_calls"] += 1
                gm = STATE["google_mode"]
            f = urllib.parse.parse_qs(body)
            if gm == "500":
                return self.send(500, {"error": "backend"})
            if gm == "reject":
                return self.send(400, {"error": "invalid_grant", "error_description": "bad sig"})
            with LOCK:
                STATE.setdefault("google_bodies", []).append(f)
            if f.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "assertion" not in f:
                return self.send(400, {"error": "invalid_request"})
            return self.send(200, {"access_token": "ya29.E2E-google-token", "expires_in": 3599, "token_type": "Bearer"})
        if self.path.startswith("/introspect"):
            f = urllib.parse.parse_qs(body)
            tok = f.get("token", [""])[0]
            with LOCK:
                STATE.setdefault("intro", []).append((self.headers.get("Authorization"), tok))
            if tok == "opaque-good":
                return self.send(200, {"active": True, "scope": PUSH_SCOPE, "client_id": "sinch", "exp": int(time.time()) + 600})
            if tok == "opaque-noscope":
                return self.send(200, {"active": True, "scope": "other", "exp": int(time.time()) + 600})
            if tok == "opaque-down":
                return self.send(500, {})
            return self.send(200, {"active": False})
        if self.path.startswith("/backend"):
            with LOCK:
                STATE["fwd"].append({"headers": dict(self.headers), "body": body})
            return self.send(200, {"backend": True})
        self.send(404, {})


def start_stub():
    srv = ThreadingHTTPServer(("127.0.0.1", STUB), Stub)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---------------------------------------------------------------- JWT helpers
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def derive(secret_b64, yyyymmdd):
    s = secret_b64 + "=" * (-len(secret_b64) % 4)
    return hmac.new(base64.b64decode(s), yyyymmdd.encode(), hashlib.sha256).digest()


def mint(app_key=APP_KEY, secret=SINCH_SECRET, sub="111", aud=None, now=None, ttl=300, hdr=None, pl=None,
         drop_hdr=(), drop_pl=(), kid_date=None, alg="HS256", sign=True, hash_fn=hashlib.sha256):
    now = int(now if now is not None else time.time())
    d = kid_date or datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y%m%d")
    h = {"alg": alg, "typ": "JWT", "kid": f"hkdfv1-{d}", "sinch:rtc:application_key": app_key}
    h.update(hdr or {})
    for k in drop_hdr:
        h.pop(k, None)
    p = {"iss": f"//rtc.sinch.com/applications/{app_key}", "sub": sub, "aud": aud or f"{BASE}/token",
         "scope": PUSH_SCOPE, "sinch:rtc:application_key": app_key, "iat": now, "exp": now + ttl,
         "nonce": str(uuid.uuid4())}
    p.update(pl or {})
    for k in drop_pl:
        p.pop(k, None)
    si = b64u(json.dumps(h, separators=(",", ":")).encode()) + "." + b64u(json.dumps(p, separators=(",", ":")).encode())
    if not sign:
        return si + "."
    sig = hmac.new(derive(secret, d), si.encode(), hash_fn).digest()
    return si + "." + b64u(sig)


def form(**kw):
    return urllib.parse.urlencode(kw)


def abody(jwt, **extra):
    d = {"grant_type": "client_credentials", "scope": PUSH_SCOPE,
         "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": jwt}
    d.update(extra)
    return urllib.parse.urlencode({k: v for k, v in d.items() if v is not None})


def req(method, path, body=None, headers=None, port=HTTP, timeout=40):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        j = json.loads(data)
    except Exception:
        j = None
    return r.status, hdrs, j, data


def expect_err(name, res, status, error):
    st, h, j, raw = res
    ok_status = st in status if isinstance(status, (tuple, list)) else st == status
    ok = ok_status and j is not None and j.get("error") == error and isinstance(j.get("error_description"), str) \
        and h.get("cache-control", "").lower() == "no-store"
    check(name, ok, f"got {st} {raw[:300]!r} cache-control={h.get('cache-control')}; want {status} {error} + no-store + description")
    return res


def expect_ok(name, res, prefix=HUAWEI_TOKEN_PREFIX):
    st, h, j, raw = res
    ok = (st == 200 and j is not None and set(j.keys()) == {"access_token", "expires_in", "token_type"}
          and j["token_type"] == "Bearer" and isinstance(j["expires_in"], int) and not isinstance(j["expires_in"], bool)
          and str(j["access_token"]).startswith(prefix)
          and h.get("content-type", "").replace(" ", "").lower() == "application/json;charset=utf-8"
          and h.get("cache-control", "").lower() == "no-store" and h.get("pragma", "").lower() == "no-cache")
    check(name, ok, f"got {st} {raw[:300]!r} ct={h.get('content-type')} cc={h.get('cache-control')} pragma={h.get('pragma')}")
    return res


# ---------------------------------------------------------------- caddy
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_port(port, t=20):
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.3).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def caddyfile(extra_hms=""):
    return f"""{{
	admin localhost:{ADMIN}
	http_port {HTTP}
	auto_https off
	log {{
		output stderr
		level DEBUG
	}}
}}
http://127.0.0.1:{HTTP} {{
	route /token {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}} {SINCH_SECRET_OLD}
			sinch_application {APP_KEY2} {SINCH_SECRET2}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			hms_application 222 {{file.{WORK}/hms222}}
			hms_application 333 {{env.E2E_HMS_SECRET}}
			hms_application 444 {{env.E2E_HMS_SECRET}}
			hms_application 555 {{env.E2E_HMS_SECRET}}
			hms_application 777 {{env.E2E_HMS_SECRET}}
			hms_application 888 {{env.E2E_HMS_SECRET}}
			hms_application 999 {{env.E2E_HMS_SECRET}}
			hms_application 1010 {{env.E2E_HMS_SECRET}}
			hms_application 1111 wrong+secret
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			{extra_hms}
		}}
	}}
	route /short {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 666 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			refresh_before 5m
			audience {BASE}/token
		}}
	}}
	route /unreach {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:9349/nothing
			audience {BASE}/token
		}}
	}}
	route /short2 {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 1212 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			refresh_before 5m
			audience {BASE}/token
		}}
	}}
	route /short3 {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 1313 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			refresh_before 5m
			audience {BASE}/token
		}}
	}}
	route /intro {{
		sinch_hms {{
			bearer {{
				introspection_url http://127.0.0.1:{STUB}/introspect
				introspection_client caddy {{env.E2E_INTRO_SECRET}}
				scope {PUSH_SCOPE}
			}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
		}}
	}}
	route /strict {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			audience {BASE}/token
			clock_skew 5s
			max_assertion_lifetime 10m
		}}
	}}
	route /oauth2/token2 {{
		sinch_oauth_server {{
			client sp {{env.E2E_OAUTH_SPECIAL}}
			signing_key {WORK}/ed.pem
			issuer https://as.e2e
			scope {PUSH_SCOPE}
		}}
	}}
	route /aud {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			audience https://a.example/token https://b.example/token
		}}
	}}
	route /fwd {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			bearer {{
				public_key {WORK}/ed.pub.pem
				issuer https://as.e2e
				audience https://as.e2e
				scope {PUSH_SCOPE}
			}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			forward
		}}
		rewrite * /backend
		reverse_proxy 127.0.0.1:{STUB} {{
			header_up X-Flow {{sinch_hms.flow}}
			header_up X-App-Key {{sinch_hms.application_key}}
			header_up X-Hms {{sinch_hms.hms_application_id}}
			header_up X-User {{http.auth.user.id}}
		}}
	}}
	route /alta {{
		sinch_hms {{
			bearer {{
				public_key {WORK}/ed.pub.pem
				issuer https://as.e2e
				audience https://as.e2e
				scope {PUSH_SCOPE}
			}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
		}}
	}}
	route /altarsa {{
		sinch_hms {{
			bearer {{
				public_key {WORK}/rsa.pub.pem
				issuer https://rsa.e2e
				audience https://rsa.e2e
			}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
		}}
	}}
	route /altjwks {{
		sinch_hms {{
			bearer {{
				jwks_url {BASE}/oauth2/token
				issuer https://as.e2e
				audience https://as.e2e
			}}
			hms_application 111 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
		}}
	}}
	route /oauth2/token {{
		sinch_oauth_server {{
			client sinch {{env.E2E_OAUTH_SECRET}}
			signing_key {WORK}/ed.pem
			issuer https://as.e2e
		}}
	}}
	route /fcm {{
		sinch_fcm {{
			bearer {{
				public_key {WORK}/ed.pub.pem
				issuer https://as.e2e
				audience https://as.e2e
				scope {FCM_SCOPE}
			}}
			fcm_project 123456789012 {WORK}/sa.json
			fcm_project 222 {WORK}/sa.json
			fcm_project 333 {WORK}/sa.json
			google_token_url http://127.0.0.1:{STUB}/google/token
		}}
	}}
	respond 404
}}
"""


ENV = dict(os.environ, E2E_SINCH_SECRET=SINCH_SECRET, E2E_HMS_SECRET=HMS_SECRET, E2E_OAUTH_SECRET=OAUTH_CLIENT_SECRET, E2E_INTRO_SECRET="intro-secret-123", E2E_OAUTH_SPECIAL="a+b:c/d e%f&g=h-long-enough")


def run(args, env=ENV, timeout=60):
    p = subprocess.run([CADDY] + args, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    t0 = time.time()
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{WORK}/ed.pem"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", f"{WORK}/ed.pem", "-pubout", "-out", f"{WORK}/ed.pub.pem"], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f"{WORK}/rsa.pem"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", f"{WORK}/rsa.pem", "-pubout", "-out", f"{WORK}/rsa.pub.pem"], check=True, capture_output=True)
    write(f"{WORK}/hms222", HMS_SECRET_FILE + "\n")
    sa = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo", "fcm-service-account.json")))
    sa["private_key"] = open(f"{WORK}/rsa.pem").read()
    json.dump(sa, open(f"{WORK}/sa.json", "w"))

    # reference vector: our own derivation matches Sinch's
    ref = json.load(open("/work/shared/vectors/sinch-reference.json"))
    check("vector: derived key", base64.b64encode(derive(ref["application_secret_base64"], "20180102")).decode() == ref["derived_signing_key_base64"])

    start_stub()
    cf = write(f"{WORK}/Caddyfile", caddyfile())

    # ----- adapt must not contain env secrets
    rc, out, err = run(["adapt", "--config", cf, "--adapter", "caddyfile"])
    check("adapt ok", rc == 0, err[-500:])
    check("adapt output has no secret", SINCH_SECRET not in out and HMS_SECRET not in out and OAUTH_CLIENT_SECRET not in out, "secret in adapt output")
    rc, out, err = run(["validate", "--config", cf, "--adapter", "caddyfile"])
    check("validate ok", rc == 0, (out + err)[-800:])

    log = open(f"{WORK}/caddy.stderr", "w")
    proc = subprocess.Popen([CADDY, "run", "--config", cf, "--adapter", "caddyfile"], stdout=log, stderr=subprocess.STDOUT, env=ENV)
    try:
        if not wait_port(HTTP):
            check("caddy started", False, open(f"{WORK}/caddy.stderr").read()[-2000:])
            return
        tests(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except Exception:
            proc.kill()
        log.close()
    # ----- logs
    logtext = open(f"{WORK}/caddy.stderr").read()
    leaks = [s for s in [SINCH_SECRET, SINCH_SECRET_OLD, SINCH_SECRET2, HMS_SECRET, HMS_SECRET_FILE, HUAWEI_TOKEN_PREFIX, OAUTH_CLIENT_SECRET,
                         "ya29.E2E-google-token", "opaque-good", "intro-secret-123"] + SEEN_JWTS if s and len(s) > 8 and s in logtext]
    leaks += [j.split(".")[2] for j in SEEN_JWTS if j.count(".") == 2 and len(j.split(".")[2]) > 10 and j.split(".")[2] in logtext][:3]
    check("logs hold no secret/token/assertion", not leaks, f"leaked: {[l[:40] for l in leaks]}")
    nonces = []
    for j in SEEN_JWTS:
        try:
            n = json.loads(base64.urlsafe_b64decode(j.split(".")[1] + "==")).get("nonce")
            if isinstance(n, str) and len(n) > 8:
                nonces.append(n)
        except Exception:
            pass
    check("logs hold no nonce (README promise)", not [n for n in nonces if n in logtext], "nonce in logs")
    check("logs have rejection lines", "token request rejected" in logtext or "rejected" in logtext)
    validate_failures()
    redis_checks()
    print(f"\nelapsed {time.time() - t0:.1f}s; {len(PASSES)} passed, {len(FAILS)} failed")
    for n, d in FAILS:
        print(f"  FAIL {n}: {d}")
    sys.exit(1 if FAILS else 0)


SEEN_JWTS = []


def A(jwt):
    SEEN_JWTS.append(jwt)
    return jwt


def ed_token(claims, hdr=None, key=f"{WORK}/ed.pem", alg="EdDSA"):
    from cryptography.hazmat.primitives import serialization, hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    k = serialization.load_pem_private_key(open(key, "rb").read(), None)
    h = {"alg": alg, "typ": "at+jwt"}
    h.update(hdr or {})
    si = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(claims).encode())
    if alg == "EdDSA":
        sig = k.sign(si.encode())
    else:
        sig = k.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
    return si + "." + b64u(sig)


def tests(proc):
    P = "/token"
    ok1 = expect_ok("alt B: valid assertion -> 200", req("POST", P, abody(A(mint()))))
    st, h, j, raw = ok1
    if j and isinstance(j.get("expires_in"), int):
        check("expires_in is seconds left (3590..3600)", 3590 <= j["expires_in"] <= 3600, str(j))
    # Huawei request shape
    b = [x for x in STATE["bodies"] if x[0] == "111"]
    if b:
        f = urllib.parse.parse_qs(b[0][1])
        check("huawei: form POST client_credentials, secret form-encoded", f.get("client_secret") == [HMS_SECRET] and f.get("grant_type") == ["client_credentials"]
              and "application/x-www-form-urlencoded" in (b[0][2] or ""), str(b[0]))
    for i in range(4):
        expect_ok(f"cache reuse #{i}", req("POST", P, abody(A(mint()))))
    check("cache: one Huawei call for 5 requests", STATE["calls"].get("111") == 1, str(STATE["calls"]))

    # variants accepted
    expect_ok("no scope param", req("POST", P, abody(A(mint()), scope=None)))
    expect_ok("client_id param ignored", req("POST", P, abody(A(mint()), client_id="whatever")))
    expect_ok("typ header absent", req("POST", P, abody(A(mint(drop_hdr=["typ"])))))
    expect_ok("scope as one-element array", req("POST", P, abody(A(mint(pl={"scope": [PUSH_SCOPE]})))))
    expect_ok("aud as one-element array", req("POST", P, abody(A(mint(pl={"aud": [f"{BASE}/token"]})))))
    expect_ok("rotation: old secret accepted", req("POST", P, abody(A(mint(secret=SINCH_SECRET_OLD)))))
    expect_ok("unpadded configured secret, app 2", req("POST", P, abody(A(mint(app_key=APP_KEY2, secret=SINCH_SECRET2)))))
    expect_ok("file secret app 222", req("POST", P, abody(A(mint(sub="222")))))
    expect_ok("content-type with charset", req("POST", P, abody(A(mint())), {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}))
    expect_ok("kid date = yesterday (iat just after midnight ok within one day)", req("POST", P, abody(A(mint(kid_date=(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime("%Y%m%d")))))) 
    expect_ok("iat 30s in future (within skew)", req("POST", P, abody(A(mint(now=time.time() + 30)))))
    expect_ok("lifetime exactly 1h", req("POST", P, abody(A(mint(ttl=3600)))))
    expect_ok("nbf in the past", req("POST", P, abody(A(mint(pl={"nbf": int(time.time()) - 10})))))

    # error table
    expect_err("GET -> 405", req("GET", P), 405, "invalid_request")
    st, h, j, raw = req("GET", P)
    check("405 has Allow: POST", h.get("allow", "").upper().replace(" ", "") == "POST", str(h.get("allow")))
    expect_err("PUT -> 405", req("PUT", P, abody(A(mint()))), 405, "invalid_request")
    expect_err("json content-type -> 400", req("POST", P, json.dumps({"grant_type": "client_credentials"}), {"Content-Type": "application/json"}), 400, "invalid_request")
    expect_err("no content-type -> 400", req("POST", P, abody(A(mint())), {"Content-Type": None}), 400, "invalid_request")
    expect_err("body too large -> 413/400", req("POST", P, abody(A(mint()), pad="x" * 70000)), (400, 413), "invalid_request")
    expect_err("body 1MB -> 413/400", req("POST", P, "grant_type=client_credentials&x=" + "y" * 1_000_000), (400, 413), "invalid_request")
    expect_err("repeated grant_type -> 400", req("POST", P, abody(A(mint())) + "&grant_type=client_credentials"), 400, "invalid_request")
    expect_err("repeated client_assertion -> 400", req("POST", P, abody(A(mint())) + "&client_assertion=" + mint()), 400, "invalid_request")
    expect_err("missing grant_type -> 400", req("POST", P, abody(A(mint()), grant_type=None)), 400, "invalid_request")
    expect_err("grant_type password -> unsupported_grant_type", req("POST", P, abody(A(mint()), grant_type="password")), 400, "unsupported_grant_type")
    expect_err("no credential -> invalid_client", req("POST", P, form(grant_type="client_credentials", scope=PUSH_SCOPE)), (400, 401), "invalid_client")
    expect_err("wrong assertion type -> invalid_client", req("POST", P, abody(A(mint()), client_assertion_type="urn:x:saml")), (400, 401), "invalid_client")
    expect_err("both assertion and bearer -> invalid_request", req("POST", P, abody(A(mint())), {"Authorization": "Bearer abc.def.ghi"}), 400, "invalid_request")
    expect_err("bearer while Alt A off -> invalid_client", req("POST", P, form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer abc"}), (400, 401), "invalid_client")
    expect_err("wrong scope param -> invalid_scope", req("POST", P, abody(A(mint()), scope="https://evil")), 400, "invalid_scope")
    expect_err("sub not configured -> unauthorized_client", req("POST", P, abody(A(mint(sub="000000")))), 400, "unauthorized_client")
    st, _, j, _ = req("POST", P, abody(A(mint()), scope=""))
    print(f"INFO empty scope param -> {st} {j}")

    now = time.time()
    today = datetime.datetime.now(datetime.timezone.utc)
    bad = {
        "alg none": A(mint(alg="none", sign=False)),
        "alg none with sig": A(mint(alg="none")),
        "alg HS512": A(mint(alg="HS512", hash_fn=hashlib.sha512)),
        "alg RS256 (hmac sig)": A(mint(alg="RS256")),
        "alg hs256 lowercase": A(mint(alg="hs256")),
        "crit header": A(mint(hdr={"crit": ["exp"]})),
        "kid date 3 days old": A(mint(kid_date=(today - datetime.timedelta(days=3)).strftime("%Y%m%d"))),
        "kid date 2 days old": A(mint(kid_date=(today - datetime.timedelta(days=2)).strftime("%Y%m%d"))),
        "kid date 2 days ahead": A(mint(kid_date=(today + datetime.timedelta(days=2)).strftime("%Y%m%d"))),
        "kid malformed": A(mint(hdr={"kid": "hkdfv1-2018"})),
        "kid bad date 20261345": A(mint(kid_date="20261345")),
        "kid other prefix": A(mint(hdr={"kid": "hkdfv2-" + today.strftime("%Y%m%d")})),
        "kid missing": A(mint(drop_hdr=["kid"])),
        "wrong secret": A(mint(secret=base64.b64encode(b"nope-nope-nope-1").decode())),
        "several audiences": A(mint(pl={"aud": [f"{BASE}/token", "https://other"]})),
        "wrong aud": A(mint(aud="https://other.example/token")),
        "scope as two-element array": A(mint(pl={"scope": [PUSH_SCOPE, "x"]})),
        "wrong scope claim": A(mint(pl={"scope": "https://evil"})),
        "missing scope claim": A(mint(drop_pl=["scope"])),
        "missing nonce": A(mint(drop_pl=["nonce"])),
        "empty nonce": A(mint(pl={"nonce": ""})),
        "expired": A(mint(now=now - 4000, ttl=300, kid_date=None)),
        "iat 120s in future": A(mint(now=now + 120)),
        "lifetime > 1h": A(mint(ttl=3601 + 60)),
        "nbf 10 min future": A(mint(pl={"nbf": int(now) + 600})),
        "wrong iss": A(mint(pl={"iss": "//rtc.sinch.com/applications/other"})),
        "missing iss": A(mint(drop_pl=["iss"])),
        "payload app key mismatch": A(mint(pl={"sinch:rtc:application_key": APP_KEY2})),
        "payload app key missing": A(mint(drop_pl=["sinch:rtc:application_key"])),
        "header app key unknown": A(mint(app_key="99999999-0000-0000-0000-000000000000")),
        "header app key missing": A(mint(drop_hdr=["sinch:rtc:application_key"])),
        "missing exp": A(mint(drop_pl=["exp"])),
        "missing iat": A(mint(drop_pl=["iat"])),
        "obsolete reference format": ref_obsolete(),
        "not a JWT": "abc",
        "two segments": ".".join(mint().split(".")[:2]),
    }
    # non-strict encodings: sig with padding, and trailing bits altered
    good = mint()
    hh, pp, ss = good.split(".")
    bad["sig with = padding"] = A(f"{hh}.{pp}.{ss}=")
    # change last char of sig to one that decodes to same bytes (non-canonical trailing bits)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    idx = alphabet.index(ss[-1])
    bad["sig non-canonical trailing bits"] = A(f"{hh}.{pp}.{ss[:-1]}{alphabet[idx ^ 1]}")
    bad["sig std base64 (+/)"] = A(f"{hh}.{pp}." + base64.b64encode(base64.urlsafe_b64decode(ss + '=' * (-len(ss) % 4))).decode().rstrip("="))
    for name, jwt in bad.items():
        res = req("POST", P, abody(jwt))
        if name == "sig std base64 (+/)" and "+" not in jwt and "/" not in jwt:
            continue
        expect_err(f"bad assertion: {name}", res, (400, 401), "invalid_client")
        parts = [x for x in jwt.split(".") if len(x) > 12]
        if any(x in res[3].decode(errors="replace") for x in parts):
            check(f"bad assertion: {name}: description does not echo the assertion", False, res[3][:300])
        if res[0] == 200:
            pass


    st, _, j, _ = req("POST", P, abody(A(mint())), {"Content-Type": "Application/X-WWW-Form-URLEncoded"})
    check("content-type is case-insensitive", st == 200, f"{st} {j}")
    st, _, j, _ = req("POST", P, abody(A(mint())) + "&foo=1&foo=2")
    print(f"INFO repeated unknown parameter -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, abody(A(mint())) + "&client_id=a&client_id=b")
    print(f"INFO repeated client_id -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, "&" + abody(A(mint())) + "&")
    print(f"INFO leading/trailing & -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, abody(A(mint())).replace("grant_type=", "grant_type=+client_credentials"))
    print(f"INFO grant_type with leading space -> {st} {j and j.get('error')}")
    # boundaries and more edge cases
    today2 = datetime.datetime.now(datetime.timezone.utc)
    expect_ok("kid date = tomorrow (within one day)", req("POST", P, abody(A(mint(kid_date=(today2 + datetime.timedelta(days=1)).strftime("%Y%m%d"))))))
    expect_ok("exp 30s in the past (within skew)", req("POST", P, abody(A(mint(now=time.time() - 330, ttl=300)))))
    expect_ok("nbf 30s in future (within skew)", req("POST", P, abody(A(mint(pl={"nbf": int(time.time()) + 30})))))
    expect_err("lifetime 3601s (> 1h, no skew on lifetime)", req("POST", P, abody(A(mint(ttl=3601)))), (400, 401), "invalid_client")
    expect_err("aud with trailing slash", req("POST", P, abody(A(mint(aud=f"{BASE}/token/")))), (400, 401), "invalid_client")
    expect_err("aud https instead of http", req("POST", P, abody(A(mint(aud=f"https://127.0.0.1:{HTTP}/token")))), (400, 401), "invalid_client")
    expect_err("aud empty array", req("POST", P, abody(A(mint(pl={"aud": []})))), (400, 401), "invalid_client")
    expect_err("scope claim with trailing space", req("POST", P, abody(A(mint(pl={"scope": PUSH_SCOPE + " "})))), (400, 401), "invalid_client")
    expect_err("nonce as number", req("POST", P, abody(A(mint(pl={"nonce": 12345})))), (400, 401), "invalid_client")
    expect_err("assertion > 8KiB", req("POST", P, abody(A(mint(pl={"pad": "x" * 9000})))), (400, 401), "invalid_client")
    g = mint(); gh, gp, gs = g.split(".")
    expect_err("header segment with = padding", req("POST", P, abody(A(gh + "=" * (-len(gh) % 4 or 4) + "." + gp + "." + gs))), (400, 401), "invalid_client")
    expect_err("iat/exp as strings", req("POST", P, abody(A(mint(pl={"iat": str(int(time.time())), "exp": str(int(time.time()) + 300)})))), (400, 401), "invalid_client")
    st, _, j, _ = req("POST", P, abody(A(mint(pl={"sub": 111}))))
    print(f"INFO sub as JSON number -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, abody(A(mint(hdr={"typ": "at+jwt"}))))
    print(f"INFO typ at+jwt on assertion -> {st} {j and j.get('error')}")
    expect_err("ordering: bad grant_type + no credential -> unsupported_grant_type", req("POST", P, form(grant_type="authorization_code")), 400, "unsupported_grant_type")
    expect_err("OPTIONS -> 405", req("OPTIONS", P), 405, "invalid_request")
    st, _, j, _ = req("POST", P + "?client_assertion=x", abody(A(mint())))
    print(f"INFO client_assertion also in query -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P + "?grant_type=client_credentials", abody(A(mint()), grant_type=None))
    print(f"INFO grant_type only in query -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, abody(A(mint()), client_assertion_type=None))
    print(f"INFO client_assertion without client_assertion_type -> {st} {j and j.get('error')}")
    st, _, j, _ = req("POST", P, abody(A(mint())), {"Authorization": "Basic eDp5"})
    print(f"INFO assertion + Authorization: Basic -> {st} {j and j.get('error')}")
    r1 = req("POST", P, abody(A(mint()))); time.sleep(1.1); r2 = req("POST", P, abody(A(mint())))
    if r1[2] and r2[2] and "expires_in" in r1[2] and "expires_in" in r2[2]:
        check("expires_in counts down", r2[2]["expires_in"] < r1[2]["expires_in"], f"{r1[2]['expires_in']} -> {r2[2]['expires_in']}")
    check("rejection log line has reason/app key/hms id", log_has(lambda d: d.get("msg") == "token request rejected" and d.get("reason") and "application_key" in d and "hms_application_id" in d), "no such line")
    # replay
    j1 = A(mint())
    expect_ok("replay: first use", req("POST", P, abody(j1)))
    expect_err("replay: second use -> invalid_client", req("POST", P, abody(j1)), (400, 401), "invalid_client")
    # nonce not burned by rejected assertion
    nonce = str(uuid.uuid4())
    expect_err("rejected assertion (bad aud) with nonce N", req("POST", P, abody(A(mint(aud="https://x", pl={"nonce": nonce})))), (400, 401), "invalid_client")
    expect_ok("same nonce N in a good assertion -> 200", req("POST", P, abody(A(mint(pl={"nonce": nonce})))))
    # forged signature with nonce N2 then valid with N2
    n2 = str(uuid.uuid4())
    expect_err("bad signature with nonce N2", req("POST", P, abody(A(mint(secret=SINCH_SECRET2, pl={"nonce": n2})))), (400, 401), "invalid_client")
    expect_ok("good with nonce N2 after forgery -> 200", req("POST", P, abody(A(mint(pl={"nonce": n2})))))
    # same nonce in other application is fine
    n3 = str(uuid.uuid4())
    expect_ok("nonce N3 app1", req("POST", P, abody(A(mint(pl={"nonce": n3})))))
    expect_ok("nonce N3 app2 (per application)", req("POST", P, abody(A(mint(app_key=APP_KEY2, secret=SINCH_SECRET2, pl={"nonce": n3})))))

    n4 = str(uuid.uuid4())
    expect_ok("nonce N4 sub 111", req("POST", P, abody(A(mint(pl={"nonce": n4})))))
    expect_err("nonce N4 reused with other sub (same application) -> replay", req("POST", P, abody(A(mint(sub="222", pl={"nonce": n4})))), (400, 401), "invalid_client")
    jr = A(mint())
    rr = [None] * 12
    def wr(i):
        rr[i] = req("POST", P, abody(jr))
    ts = [threading.Thread(target=wr, args=(i,)) for i in range(12)]
    [x.start() for x in ts]; [x.join() for x in ts]
    check("concurrent replay: exactly one 200", sum(1 for x in rr if x[0] == 200) == 1, str([x[0] for x in rr]))
    # audience config
    expect_ok("configured audience a", req("POST", "/aud", abody(A(mint(aud="https://a.example/token")))))
    expect_ok("configured audience b", req("POST", "/aud", abody(A(mint(aud="https://b.example/token")))))
    expect_err("configured audiences: own URL not accepted", req("POST", "/aud", abody(A(mint(aud=f"{BASE}/aud")))), (400, 401), "invalid_client")
    expect_err("aud = both configured audiences -> refused", req("POST", "/aud", abody(A(mint(pl={"aud": ["https://a.example/token", "https://b.example/token"]})))), (400, 401), "invalid_client")
    st, _, j, _ = req("POST", "/token?x=1", abody(A(mint())))
    print(f"INFO default audience with query string on request -> {st} {j}")

    # Huawei failures
    STATE["mode"]["333"] = "reject"
    expect_err("huawei rejects credentials -> 502 server_error", req("POST", P, abody(A(mint(sub="333")))), 502, "server_error")
    STATE["mode"]["444"] = "500"
    r = expect_err("huawei 500 -> 503", req("POST", P, abody(A(mint(sub="444")))), 503, "temporarily_unavailable")
    check("503 has Retry-After", "retry-after" in r[1], str(r[1]))
    STATE["mode"]["888"] = "503"
    r = expect_err("huawei throttled 503 -> 503", req("POST", P, abody(A(mint(sub="888")))), 503, "temporarily_unavailable")
    check("503 (throttle) has Retry-After", "retry-after" in r[1], str(r[1]))
    STATE["mode"]["555"] = "hang"
    t = time.time()
    r = expect_err("huawei hangs -> 503 (bounded timeout)", req("POST", P, abody(A(mint(sub="555"))), timeout=60), 503, "temporarily_unavailable")
    check("huawei hang answered within 35s", time.time() - t < 35, f"{time.time() - t:.1f}s")
    check("hang 503 has Retry-After", "retry-after" in r[1])
    print(f"INFO hang answered after {time.time() - t:.1f}s")


    STATE["mode"]["999"] = "reject_str"
    expect_err("huawei error as string -> 502 server_error", req("POST", P, abody(A(mint(sub="999")))), 502, "server_error")
    expect_err("huawei unknown-secret (20173) -> 502", req("POST", P, abody(A(mint(sub="1111")))), 502, "server_error")
    STATE["mode"]["1010"] = "badjson"
    st, h, j, raw = req("POST", P, abody(A(mint(sub="1010"))))
    print(f"INFO huawei 200 with non-JSON body -> {st} {j} retry-after={h.get('retry-after')}")
    for k in ["444", "888", "555"]:
        st, h, j, raw = req("POST", P, abody(A(mint(sub=k))), timeout=60)
        print(f"INFO repeat failure {k}: {st} retry-after={h.get('retry-after')} calls={STATE['calls'].get(k)}")
    # unreachable upstream: handled in second caddy below
    # concurrent cold
    STATE["mode"]["777"] = "delay"
    res = [None] * 30
    def w(i):
        res[i] = req("POST", P, abody(A(mint(sub="777"))))
    ts = [threading.Thread(target=w, args=(i,)) for i in range(30)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    check("concurrent cold: all 200", all(r and r[0] == 200 for r in res), str([r[0] for r in res if r]))
    check("concurrent cold: one Huawei call", STATE["calls"].get("777") == 1, str(STATE["calls"].get("777")))

    # stale served while refresh fails
    STATE["ttl"]["666"] = 200
    r = expect_ok("short token first fetch", req("POST", "/short", abody(A(mint(sub="666")))))
    c0 = STATE["calls"].get("666", 0)
    STATE["mode"]["666"] = "500"
    time.sleep(1.2)
    r2 = req("POST", "/short", abody(A(mint(sub="666"))))
    expect_ok("stale token served when refresh fails", r2)
    if r[2] and r2[2] and "access_token" in r[2] and "access_token" in r2[2]:
        check("stale token is the old one", r[2]["access_token"] == r2[2]["access_token"], f"{r[2]} vs {r2[2]}")
        check("stale expires_in decreasing and < 200", r2[2]["expires_in"] < 200, str(r2[2]))
    check("refresh was attempted", STATE["calls"].get("666", 0) > c0, f"{c0} -> {STATE['calls'].get('666')}")
    STATE["mode"]["666"] = "ok"
    time.sleep(0.5)
    r3 = req("POST", "/short", abody(A(mint(sub="666"))))
    print(f"INFO after Huawei recovers: {r3[0]} {r3[2]} calls={STATE['calls'].get('666')}")
    STATE["mode"]["666"] = "reject"
    time.sleep(1.1)
    r4 = req("POST", "/short", abody(A(mint(sub="666"))))
    expect_ok("stale token served when refresh is REJECTED by Huawei (old token still valid)", r4)
    STATE["mode"]["666"] = "ok"

    st, h, j, raw = req("GET", "/metrics", port=ADMIN)
    check("metrics: stale cache result counted", re.search(r'caddy_sinch_hms_cache_requests_total\{[^}]*(hms_app="666"[^}]*result="stale"|result="stale"[^}]*hms_app="666")[^}]*\} [1-9]', raw.decode()) is not None, "no stale>0 for 666")
    c = STATE["calls"].get("666")
    for i in range(10):
        req("POST", "/short", abody(A(mint(sub="666"))))
    print(f"INFO short-lived token (200s < refresh_before 300s): 10 requests caused {STATE['calls'].get('666') - c} Huawei calls")
    # forward mode
    STATE["fwd"].clear()
    r = req("POST", "/fwd", abody(A(mint(aud=f"{BASE}/fwd"))))
    check("forward: passes to next handler", r[0] == 200 and r[2] == {"backend": True}, str(r[:3]))
    if STATE["fwd"]:
        fh = {k.lower(): v for k, v in STATE["fwd"][-1]["headers"].items()}
        check("forward: {sinch_hms.flow}=client_assertion", fh.get("x-flow") == "client_assertion", str(fh))
        check("forward: {sinch_hms.application_key}", fh.get("x-app-key") == APP_KEY, str(fh))
        check("forward: {sinch_hms.hms_application_id}", fh.get("x-hms") == "111", str(fh))
        check("forward: {http.auth.user.id}", fh.get("x-user") == "111", str(fh))
        fb = urllib.parse.parse_qs(STATE["fwd"][-1]["body"])
        check("forward: body without assertion, with hms_application_id (README)", "client_assertion" not in fb and fb.get("hms_application_id") == ["111"] and fb.get("grant_type") == ["client_credentials"], str(fb))
    n = len(STATE["fwd"])
    expect_err("forward: bad assertion not forwarded", req("POST", "/fwd", abody(A(mint(aud=f"{BASE}/fwd", secret=SINCH_SECRET2)))), (400, 401), "invalid_client")
    check("forward: nothing reached backend on bad", len(STATE["fwd"]) == n)

    # embedded AS
    st, h, j, raw = req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="sinch", client_secret=OAUTH_CLIENT_SECRET, scope=PUSH_SCOPE))
    check("AS: client_secret_post -> token", st == 200 and j and j.get("token_type") == "Bearer" and isinstance(j.get("expires_in"), int) and h.get("cache-control", "").lower() == "no-store", f"{st} {raw[:200]}")
    at_hms = j.get("access_token") if j else None
    if at_hms:
        SEEN_JWTS.append(at_hms)
        hd = json.loads(base64.urlsafe_b64decode(at_hms.split(".")[0] + "=="))
        cl = json.loads(base64.urlsafe_b64decode(at_hms.split(".")[1] + "=="))
        check("AS token: typ at+jwt EdDSA", hd.get("typ") == "at+jwt" and hd.get("alg") == "EdDSA", str(hd))
        check("AS token claims", all(k in cl for k in ["iss", "sub", "aud", "scope", "iat", "exp", "jti", "client_id"]) and cl["sub"] == "sinch" and cl["iss"] == "https://as.e2e", str(cl))
    basic = base64.b64encode(f"sinch:{urllib.parse.quote(OAUTH_CLIENT_SECRET, safe='')}".encode()).decode()
    st, h, j, raw = req("POST", "/oauth2/token", form(grant_type="client_credentials", scope=FCM_SCOPE), {"Authorization": "Basic " + basic})
    check("AS: client_secret_basic -> token", st == 200 and j and "access_token" in j, f"{st} {raw[:200]}")
    at_fcm = j.get("access_token") if j else None
    if at_fcm:
        SEEN_JWTS.append(at_fcm)
    r = expect_err("AS: wrong secret (post) -> 401 invalid_client", req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="sinch", client_secret="nope")), 401, "invalid_client")
    bad_basic = base64.b64encode(b"sinch:wrong").decode()
    r = expect_err("AS: wrong secret (basic) -> 401", req("POST", "/oauth2/token", form(grant_type="client_credentials"), {"Authorization": "Basic " + bad_basic}), 401, "invalid_client")
    check("AS: WWW-Authenticate: Basic on Basic failure", r[1].get("www-authenticate", "").lower().startswith("basic"), str(r[1].get("www-authenticate")))
    expect_err("AS: invalid_scope", req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="sinch", client_secret=OAUTH_CLIENT_SECRET, scope="https://evil")), 400, "invalid_scope")
    expect_err("AS: unsupported_grant_type", req("POST", "/oauth2/token", form(grant_type="password", client_id="sinch", client_secret=OAUTH_CLIENT_SECRET)), 400, "unsupported_grant_type")
    expect_err("AS: repeated param -> invalid_request", req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="sinch", client_secret=OAUTH_CLIENT_SECRET) + "&client_id=sinch"), 400, "invalid_request")
    st, h, j, raw = req("GET", "/oauth2/token")
    check("AS: JWKS content type", "jwk-set+json" in h.get("content-type", ""), str(h.get("content-type")))
    check("AS: GET -> JWKS", st == 200 and j and isinstance(j.get("keys"), list) and j["keys"] and j["keys"][0].get("kty") == "OKP", f"{st} {raw[:200]}")

    # Alt A on sinch_hms
    if at_hms:
        expect_ok("alt A: AS token + hms_application_id -> 200", req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + at_hms}))
        expect_ok("alt A via jwks_url -> 200", req("POST", "/altjwks", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + at_hms}))
        expect_err("alt A: unknown hms_application_id -> unauthorized_client", req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="000"), {"Authorization": "Bearer " + at_hms}), 400, "unauthorized_client")
        expect_err("alt A: missing hms_application_id -> invalid_request", req("POST", "/alta", form(grant_type="client_credentials"), {"Authorization": "Bearer " + at_hms}), 400, "invalid_request")
        expect_err("alt A: both assertion and bearer", req("POST", "/alta", abody(A(mint()), hms_application_id="111"), {"Authorization": "Bearer " + at_hms}), 400, "invalid_request")
        # forward with bearer
        STATE["fwd"].clear()
        r = req("POST", "/fwd", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + at_hms})
        if STATE["fwd"]:
            fh = {k.lower(): v for k, v in STATE["fwd"][-1]["headers"].items()}
            check("forward alt A: flow=bearer, user id", fh.get("x-flow") == "bearer" and fh.get("x-hms") == "111" and fh.get("x-user") == "111", str(fh))
            check("forward alt A: Authorization dropped (README)", "authorization" not in fh, str(fh.get("authorization"))[:20])
        else:
            check("forward alt A reached backend", False, str(r[:3]))
    if at_fcm:
        r = expect_err("alt A: token lacking required scope -> invalid_token", req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + at_fcm}), 401, "invalid_token")
        check("alt A: WWW-Authenticate Bearer error=invalid_token (scope)", 'error="invalid_token"' in r[1].get("www-authenticate", ""), str(r[1].get("www-authenticate")))
    now = int(time.time())
    base_claims = {"iss": "https://as.e2e", "aud": "https://as.e2e", "sub": "c", "client_id": "c", "scope": PUSH_SCOPE, "iat": now, "exp": now + 300, "jti": "x"}
    bt = {
        "expired": ed_token(dict(base_claims, iat=now - 1000, exp=now - 500)),
        "wrong iss": ed_token(dict(base_claims, iss="https://other")),
        "wrong aud": ed_token(dict(base_claims, aud="https://other")),
        "garbage": "not-a-token",
        "alg none": b64u(b'{"alg":"none","typ":"at+jwt"}') + "." + b64u(json.dumps(base_claims).encode()) + ".",
        "RSA key on EdDSA route": ed_token(base_claims, key=f"{WORK}/rsa.pem", alg="RS256"),
        "typ logout+jwt": ed_token(base_claims, hdr={"typ": "logout+jwt"}),
        "crit header": ed_token(base_claims, hdr={"crit": ["exp"], "exp": 1}),
        "no exp": ed_token({k: v for k, v in base_claims.items() if k != "exp"}),
        "nbf in future": ed_token(dict(base_claims, nbf=now + 600)),
        "HS256 keyed with public key PEM (alg confusion)": (lambda si: si + "." + b64u(hmac.new(open(f"{WORK}/ed.pub.pem", "rb").read(), si.encode(), hashlib.sha256).digest()))(b64u(b'{"alg":"HS256","typ":"at+jwt"}') + "." + b64u(json.dumps(base_claims).encode())),
    }
    for name, tok in bt.items():
        SEEN_JWTS.append(tok)
        r = expect_err(f"alt A bad token: {name} -> 401 invalid_token", req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + tok}), 401, "invalid_token")
        check(f"alt A bad token: {name}: WWW-Authenticate", 'Bearer' in r[1].get("www-authenticate", "") and 'error="invalid_token"' in r[1].get("www-authenticate", ""), str(r[1].get("www-authenticate")))
    rsa_ok = ed_token(dict(base_claims, iss="https://rsa.e2e", aud="https://rsa.e2e"), key=f"{WORK}/rsa.pem", alg="RS256")
    expect_ok("alt A RS256 public_key -> 200", req("POST", "/altarsa", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer " + rsa_ok}))
    r = expect_err("alt A only: no credential -> invalid_client", req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111")), (400, 401), "invalid_client")
    print(f"INFO alt A only, no credential: {r[0]} WWW-Authenticate={r[1].get('www-authenticate')}")
    r = req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer a b"})
    print(f"INFO alt A 'Bearer a b' -> {r[0]} {r[2]}")
    expect_err("alt A: client assertion to Alt-A-only endpoint", req("POST", "/alta", abody(A(mint()))), (400, 401), "invalid_client")

    # FCM
    if at_fcm:
        expect_ok("fcm: token -> google token", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="123456789012"), {"Authorization": "Bearer " + at_fcm}), prefix="ya29.")
        expect_ok("fcm: cached", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="123456789012"), {"Authorization": "Bearer " + at_fcm}), prefix="ya29.")
        check("fcm: one google call", STATE["google_calls"] == 1, str(STATE["google_calls"]))
        expect_err("fcm: unknown project -> unauthorized_client", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="1"), {"Authorization": "Bearer " + at_fcm}), 400, "unauthorized_client")
        expect_err("fcm: HMS-scoped token -> invalid_token", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="123456789012"), {"Authorization": "Bearer " + at_hms}), 401, "invalid_token")
        expect_err("fcm: missing project -> invalid_request", req("POST", "/fcm", form(grant_type="client_credentials"), {"Authorization": "Bearer " + at_fcm}), 400, "invalid_request")

        STATE["google_mode"] = "500"
        r = expect_err("fcm: google 500 -> 503", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="222"), {"Authorization": "Bearer " + at_fcm}), 503, "temporarily_unavailable")
        check("fcm 503 Retry-After", "retry-after" in r[1])
        STATE["google_mode"] = "reject"
        expect_err("fcm: google rejects -> 502", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="333"), {"Authorization": "Bearer " + at_fcm}), 502, "server_error")
        STATE["google_mode"] = "ok"
        expect_err("fcm: wrong scope param -> invalid_scope", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="123456789012", scope=PUSH_SCOPE), {"Authorization": "Bearer " + at_fcm}), 400, "invalid_scope")
        expect_err("fcm: client assertion -> invalid_request", req("POST", "/fcm", abody(A(mint()), fcm_project_number="123456789012"), {"Authorization": "Bearer " + at_fcm}), 400, "invalid_request")
    r = expect_err("fcm: no bearer -> 401 invalid_client", req("POST", "/fcm", form(grant_type="client_credentials", fcm_project_number="123456789012")), 401, "invalid_client")
    check("fcm: no bearer has WWW-Authenticate: Bearer", r[1].get("www-authenticate", "").startswith("Bearer"), str(r[1].get("www-authenticate")))
    expect_err("fcm: GET -> 405", req("GET", "/fcm"), 405, "invalid_request")
    r = expect_err("AS: no credentials -> 401 invalid_client", req("POST", "/oauth2/token", form(grant_type="client_credentials")), 401, "invalid_client")
    print(f"INFO AS no creds WWW-Authenticate={r[1].get('www-authenticate')}")
    expect_err("AS: unknown client -> 401", req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="nobody", client_secret="x")), 401, "invalid_client")
    expect_err("AS: PUT -> 405", req("PUT", "/oauth2/token", form(grant_type="client_credentials")), 405, "invalid_request")
    st, h, j, raw = req("POST", "/oauth2/token", form(grant_type="client_credentials", client_id="sinch", client_secret=OAUTH_CLIENT_SECRET))
    print(f"INFO AS no scope param -> {st} scope={j and j.get('scope')}")
    st, h, j, raw = req("POST", "/oauth2/token", form(grant_type="client_credentials", client_secret=OAUTH_CLIENT_SECRET), {"Authorization": "Basic " + base64.b64encode(f"sinch:{OAUTH_CLIENT_SECRET}".encode()).decode()})
    print(f"INFO AS basic + body secret -> {st} {j and j.get('error')}")
    st, h, j, raw = req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "bearer " + (at_hms or "")})
    print(f"INFO alt A lowercase 'bearer' scheme -> {st} {j and j.get('error')}")


    # ---- round 2
    t = time.time()
    r = expect_err("huawei unreachable -> 503", req("POST", "/unreach", abody(A(mint()))), 503, "temporarily_unavailable")
    check("unreachable 503 has Retry-After", "retry-after" in r[1], str(r[1]))
    print(f"INFO unreachable answered in {time.time()-t:.1f}s retry-after={r[1].get('retry-after')}")
    # stale + concurrency: token 200s (< refresh_before) => stale; 20 concurrent requests with slow Huawei
    STATE["ttl"]["1212"] = 200
    expect_ok("short2 first fetch", req("POST", "/short2", abody(A(mint(sub="1212")))))
    time.sleep(1.1)
    c0 = STATE["calls"].get("1212", 0)
    STATE["mode"]["1212"] = "delay"
    res = [None] * 20
    def w2(i):
        res[i] = req("POST", "/short2", abody(A(mint(sub="1212"))))
    ts = [threading.Thread(target=w2, args=(i,)) for i in range(20)]
    [x.start() for x in ts]; [x.join() for x in ts]
    check("concurrent stale: all 200", all(r and r[0] == 200 for r in res), str([r[0] for r in res]))
    check("concurrent stale: exactly one Huawei call", STATE["calls"].get("1212", 0) - c0 == 1, f"{STATE['calls'].get('1212', 0) - c0} calls")
    # stale while Huawei hangs: latency of a request
    STATE["ttl"]["1313"] = 200
    expect_ok("short3 first fetch", req("POST", "/short3", abody(A(mint(sub="1313")))))
    time.sleep(1.1)
    STATE["mode"]["1313"] = "hang"
    t = time.time()
    r = req("POST", "/short3", abody(A(mint(sub="1313"))), timeout=60)
    expect_ok("stale served while Huawei hangs on refresh", r)
    print(f"INFO stale-while-hang answered in {time.time()-t:.2f}s")
    # X-Forwarded-* must not let a client choose the default audience
    r = req("POST", P, abody(A(mint(aud="https://victim.example/token"))), {"X-Forwarded-Host": "victim.example", "X-Forwarded-Proto": "https", "Host": f"127.0.0.1:{HTTP}"})
    check("default audience ignores untrusted X-Forwarded-Host/Proto", r[0] in (400, 401), f"{r[0]} {r[2]}")
    r = req("POST", P, abody(A(mint(aud=f"http://evil.example:{HTTP}/token"))), {"Host": f"evil.example:{HTTP}"})
    print(f"INFO default audience follows Host header (site 127.0.0.1 so other Host unrouted) -> {r[0]}")
    # chunked large body
    c = http.client.HTTPConnection("127.0.0.1", HTTP, timeout=20)
    def gen():
        yield b"grant_type=client_credentials&x="
        for i in range(100):
            yield b"y" * 1024
    c.request("POST", P, body=gen(), headers={"Content-Type": "application/x-www-form-urlencoded"}, encode_chunked=True)
    rr = c.getresponse(); data = rr.read(); c.close()
    check("chunked body > 64KiB -> 413/400 invalid_request", rr.status in (400, 413) and b"invalid_request" in data, f"{rr.status} {data[:200]}")
    expect_err("bad percent-encoding -> 400", req("POST", P, "grant_type=client_credentials&client_assertion=%zz"), 400, "invalid_request")
    st, h, j, raw = req("HEAD", P)
    check("HEAD -> 405 + Allow: POST", st == 405 and h.get("allow", "").replace(" ", "").upper() == "POST", f"{st} {h}")
    # introspection
    expect_ok("introspection: active token -> 200", req("POST", "/intro", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer opaque-good"}))
    ia = STATE.get("intro", [])
    check("introspection uses Basic client auth", ia and ia[-1][0] and ia[-1][0].startswith("Basic "), str(ia[-1:]))
    r = expect_err("introspection: inactive -> 401 invalid_token", req("POST", "/intro", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer opaque-bad"}), 401, "invalid_token")
    check("introspection inactive: WWW-Authenticate", 'error="invalid_token"' in r[1].get("www-authenticate", ""), str(r[1].get("www-authenticate")))
    expect_err("introspection: no scope -> 401 invalid_token", req("POST", "/intro", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer opaque-noscope"}), 401, "invalid_token")
    r = req("POST", "/intro", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer opaque-down"})
    print(f"INFO introspection endpoint 500 -> {r[0]} {r[2]} retry-after={r[1].get('retry-after')}")
    r = req("POST", "/alta", form(grant_type="client_credentials", hms_application_id="111"), {"Authorization": "Bearer "})
    print(f"INFO empty bearer -> {r[0]} {r[2]} www-auth={r[1].get('www-authenticate')}")
    st, h, j, raw = req("GET", "/metrics", port=ADMIN)
    check("metrics: token_seconds_left", b"caddy_sinch_hms_token_seconds_left" in raw)
    check("metrics: AS and fcm", b"caddy_sinch_oauth_server_requests_total" in raw and b"caddy_sinch_fcm_requests_total" in raw)

    # custom clock_skew / max_assertion_lifetime
    expect_ok("strict: within settings", req("POST", "/strict", abody(A(mint(ttl=600)))))
    expect_err("strict: lifetime 11m > max_assertion_lifetime 10m", req("POST", "/strict", abody(A(mint(ttl=660)))), (400, 401), "invalid_client")
    expect_err("strict: iat 30s future > clock_skew 5s", req("POST", "/strict", abody(A(mint(now=time.time() + 30)))), (400, 401), "invalid_client")
    expect_err("strict: exp 30s past > clock_skew 5s", req("POST", "/strict", abody(A(mint(now=time.time() - 330, ttl=300)))), (400, 401), "invalid_client")
    # AS client secret with special characters
    SP = "a+b:c/d e%f&g=h-long-enough"
    st, h, j, raw = req("POST", "/oauth2/token2", form(grant_type="client_credentials", client_id="sp", client_secret=SP))
    check("AS: special-char secret, post", st == 200, f"{st} {raw[:200]}")
    enc = base64.b64encode(("sp:" + urllib.parse.quote_plus(SP)).encode()).decode()
    st, h, j, raw = req("POST", "/oauth2/token2", form(grant_type="client_credentials"), {"Authorization": "Basic " + enc})
    check("AS: special-char secret, basic (form-urlencoded)", st == 200, f"{st} {raw[:200]}")
    st, h, j, raw = req("POST", "/oauth2/token2", form(grant_type="client_credentials", client_id="sp", client_secret=SP, scope=FCM_SCOPE))
    check("AS: scope not in configured list -> invalid_scope", st == 400 and j and j.get("error") == "invalid_scope", f"{st} {raw[:200]}")
    gb = STATE.get("google_bodies", [])
    if gb:
        aj = gb[0]["assertion"][0]
        gh = json.loads(base64.urlsafe_b64decode(aj.split(".")[0] + "=="))
        gc = json.loads(base64.urlsafe_b64decode(aj.split(".")[1] + "=="))
        check("google grant: RS256 JWT with iss=client_email, FCM scope, aud=token url", gh.get("alg") == "RS256" and gc.get("iss") == json.load(open(f"{WORK}/sa.json"))["client_email"]
              and FCM_SCOPE in str(gc.get("scope")) and gc.get("aud") == f"http://127.0.0.1:{STUB}/google/token", f"{gh} {gc}")
        from cryptography.hazmat.primitives import serialization, hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        pk = serialization.load_pem_public_key(open(f"{WORK}/rsa.pub.pem", "rb").read())
        try:
            si, sg = aj.rsplit(".", 1)
            pk.verify(base64.urlsafe_b64decode(sg + "=" * (-len(sg) % 4)), si.encode(), padding.PKCS1v15(), hashes.SHA256())
            check("google grant signature verifies with the service-account key", True)
        except Exception as e:
            check("google grant signature verifies with the service-account key", False, str(e))
    # metrics
    st, h, j, raw = req("GET", "/metrics", port=ADMIN)
    text = raw.decode(errors="replace")
    for m in ["caddy_sinch_hms_requests_total", "caddy_sinch_hms_rejections_total", "caddy_sinch_hms_huawei_fetches_total",
              "caddy_sinch_hms_huawei_fetch_duration_seconds", "caddy_sinch_hms_cache_requests_total"]:
        check(f"metrics: {m}", m in text, "missing")
    check("metrics: no secret/token", HUAWEI_TOKEN_PREFIX not in text and HMS_SECRET not in text)
    m = re.search(r'caddy_sinch_hms_huawei_fetches_total\{[^}]*hms_app="111"[^}]*outcome="success"[^}]*\} (\d+)', text) or \
        re.search(r'caddy_sinch_hms_huawei_fetches_total\{[^}]*outcome="success"[^}]*hms_app="111"[^}]*\} (\d+)', text)
    check("metrics: huawei success for 111 == 1", m is not None and m.group(1) == "1", m.group(0) if m else "no series")

    # reload keeps cache
    c = STATE["calls"].get("111")
    rc, out, err = run(["reload", "--config", f"{WORK}/Caddyfile", "--adapter", "caddyfile", "--address", f"localhost:{ADMIN}", "--force"])
    check("reload ok", rc == 0, err[-400:])
    time.sleep(0.5)
    expect_ok("after reload -> 200", req("POST", P, abody(A(mint()))))
    expect_err("replay across reload rejected", req("POST", P, abody(j1)), (400, 401), "invalid_client")
    check("cache survives reload", STATE["calls"].get("111") == c, f"{c} -> {STATE['calls'].get('111')}")

    # changed HMS secret for 222 -> cache starts empty (README)
    VALID["222"] = "rotated+secret=="
    write(f"{WORK}/hms222", "rotated+secret==\n")
    c222 = STATE["calls"].get("222", 0)
    rc, out, err = run(["reload", "--config", f"{WORK}/Caddyfile", "--adapter", "caddyfile", "--address", f"localhost:{ADMIN}", "--force"])
    time.sleep(0.5)
    expect_ok("after reload with changed 222 secret -> 200", req("POST", P, abody(A(mint(sub="222")))))
    check("changed secret: new Huawei fetch", STATE["calls"].get("222", 0) == c222 + 1, f"{c222} -> {STATE['calls'].get('222')}")
    # CLI
    rc, out, err = run(["sinch-hms-assertion", "--app-key", APP_KEY, "--secret", SINCH_SECRET, "--hms-app-id", "111", "--post", f"{BASE}/token"])
    check("CLI --post -> HTTP 200", rc == 0 and "200" in out, (out + err)[-300:])
    rc, out, err = run(["sinch-hms-assertion", "--app-key", APP_KEY, "--secret", SINCH_SECRET, "--hms-app-id", "111", "--aud", f"{BASE}/token"])
    jwt = out.strip().splitlines()[-1] if out.strip() else ""
    SEEN_JWTS.append(jwt)
    expect_ok("CLI-minted assertion accepted by curl-style POST", req("POST", P, abody(jwt)))
    if jwt.count(".") == 2:
        hd = json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "=="))
        cl = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
        check("CLI assertion shape", hd.get("alg") == "HS256" and hd.get("kid", "").startswith("hkdfv1-") and hd.get("sinch:rtc:application_key") == APP_KEY
              and cl.get("iss") == f"//rtc.sinch.com/applications/{APP_KEY}" and cl.get("sub") == "111" and cl.get("scope") == PUSH_SCOPE and "nonce" in cl, f"{hd} {cl}")
    rc, out, err = run(["sinch-hms-assertion", "--check", "--app-key", APP_KEY, "--secret", SINCH_SECRET2, "--hms-app-id", "111", "--post", f"{BASE}/token"])
    check("CLI --check with wrong secret exits non-zero", rc != 0, out[-300:])


def log_has(pred):
    time.sleep(0.2)
    for line in open(f"{WORK}/caddy.stderr"):
        try:
            d = json.loads(line)
        except Exception:
            continue
        if pred(d):
            return True
    return False


def ref_obsolete():
    return json.load(open("/work/shared/vectors/sinch-reference.json"))["obsolete_hms_client_assertion"]["jwt"]


def redis_checks():
    import shutil
    if not shutil.which("redis-server"):
        print("INFO redis-server not installed: redis checks skipped")
        return
    rd = subprocess.Popen(["redis-server", "--port", "9340", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "rpw"], stdout=subprocess.DEVNULL)
    procs = []
    try:
        wait_port(9340)
        for i, (port, admin) in enumerate([(9341, 9343), (9342, 9344)]):
            cf = write(f"{WORK}/Caddyfile-r{i}", f"""{{
	admin localhost:{admin}
	http_port {port}
	auto_https off
}}
:{port} {{
	route /t {{
		sinch_hms {{
			sinch_application {APP_KEY} {{env.E2E_SINCH_SECRET}}
			hms_application 1515 {{env.E2E_HMS_SECRET}}
			huawei_token_url http://127.0.0.1:{STUB}/huawei/token
			audience https://lb.example/t
			replay_store redis redis://:{{env.RPW}}@127.0.0.1:9340/0
			token_store redis redis://:{{env.RPW}}@127.0.0.1:9340/0
		}}
	}}
}}
""")
            procs.append(subprocess.Popen([CADDY, "run", "--config", cf, "--adapter", "caddyfile"], stdout=open(f"{WORK}/caddy-r{i}.stderr", "w"), stderr=subprocess.STDOUT, env=dict(ENV, RPW="rpw")))
        wait_port(9341); wait_port(9342)
        VALID["1515"] = HMS_SECRET
        STATE["mode"]["1515"] = "delay"
        res = [None] * 40
        def w(i):
            res[i] = req("POST", "/t", abody(A(mint(sub="1515", aud="https://lb.example/t"))), port=9341 + (i % 2))
        ts = [threading.Thread(target=w, args=(i,)) for i in range(40)]
        [x.start() for x in ts]; [x.join() for x in ts]
        check("redis: 40 cold requests over 2 instances all 200", all(r[0] == 200 for r in res), str([r[0] for r in res]))
        check("redis: one Huawei call for both instances", STATE["calls"].get("1515") == 1, str(STATE["calls"].get("1515")))
        j = A(mint(sub="1515", aud="https://lb.example/t"))
        expect_ok("redis: assertion on instance A", req("POST", "/t", abody(j), port=9341))
        expect_err("redis: replay on instance B refused", req("POST", "/t", abody(j), port=9342), (400, 401), "invalid_client")
        rd.terminate(); rd.wait()
        r = expect_err("redis down: replay store fails closed -> 503", req("POST", "/t", abody(A(mint(sub="1515", aud="https://lb.example/t"))), port=9341), 503, "temporarily_unavailable")
        check("redis down: Retry-After", "retry-after" in r[1])
    finally:
        for p in procs:
            p.terminate(); p.wait()
        if rd.poll() is None:
            rd.terminate(); rd.wait()
    lt = "".join(open(f"{WORK}/caddy-r{i}.stderr").read() for i in range(2))
    check("redis: logs hold no redis password / token", "rpw@" not in lt and ":rpw" not in lt and HUAWEI_TOKEN_PREFIX not in lt)


def validate_failures():
    base_ok = f"""{{
	admin localhost:9303
}}
:9311 {{
	sinch_hms {{
		LINES
	}}
}}
"""
    cases = {
        "malformed secret": ("sinch_application k1 not*base64!!\n\t\thms_application 1 s", 6),
        "empty secret": ('sinch_application k1 ""\n\t\thms_application 1 s', 6),
        "unknown subdirective": ("sinch_application k1 YWJjZA==\n\t\tbogus_option 1\n\t\thms_application 1 s", 7),
        "missing hms_application": ("sinch_application k1 YWJjZA==", 5),
        "unset env secret": ("sinch_application k1 {env.E2E_DEFINITELY_UNSET}\n\t\thms_application 1 s", None),
        "missing file secret": ("sinch_application k1 {file./nonexistent/x}\n\t\thms_application 1 s", None),
        "env secret not base64": ("sinch_application k1 {env.E2E_BADB64}\n\t\thms_application 1 s", None),
        "secret '=='": ("sinch_application k1 ==\n\t\thms_application 1 s", 6),
        "url-safe base64 secret": ("sinch_application k1 YWJj-_8\n\t\thms_application 1 s", 6),
        "secret with whitespace-free garbage padding YWJjZA===": ("sinch_application k1 YWJjZA===\n\t\thms_application 1 s", 6),
        "empty hms_application secret": ('sinch_application k1 YWJjZA==\n\t\thms_application 1 ""', 7),
        "hms_application twice": ("sinch_application k1 YWJjZA==\n\t\thms_application 1 a\n\t\thms_application 1 b", 8),
        "neither sinch_application nor bearer": ("hms_application 1 s", 5),
        "repeated single-valued clock_skew": ("sinch_application k1 YWJjZA==\n\t\tclock_skew 60s\n\t\tclock_skew 30s\n\t\thms_application 1 s", 8),
        "bad duration": ("sinch_application k1 YWJjZA==\n\t\tclock_skew banana\n\t\thms_application 1 s", 7),
        "hms_application missing secret": ("sinch_application k1 YWJjZA==\n\t\thms_application 1", 7),
        "bad huawei_token_url (not absolute http(s))": ("sinch_application k1 YWJjZA==\n\t\thms_application 1 s\n\t\thuawei_token_url notaurl", 8),
    }
    env = dict(ENV, E2E_BADB64="***not base64***")
    # fcm key file with a non-Google token_uri and no google_token_url
    sa = json.load(open(f"{WORK}/sa.json")); sa["token_uri"] = "https://evil.example/token"
    json.dump(sa, open(f"{WORK}/sa-evil.json", "w"))
    p = write(f"{WORK}/Caddyfile.fcm", f"""{{\n\tadmin localhost:9303\n}}\n:9311 {{\n\tsinch_fcm {{\n\t\tbearer {{\n\t\t\tpublic_key {WORK}/ed.pub.pem\n\t\t\tissuer x\n\t\t\taudience y\n\t\t}}\n\t\tfcm_project 1 {WORK}/sa-evil.json\n\t}}\n}}\n""")
    rc, out, err = run(["validate", "--config", p, "--adapter", "caddyfile"])
    check("validate fails: fcm key file with foreign token_uri", rc != 0, (out + err)[-300:])
    # {$VAR} adapt-time
    p = write(f"{WORK}/Caddyfile.dollar", base_ok.replace("LINES", "sinch_application k1 {$E2E_SINCH_SECRET}\n\t\thms_application 1 s"))
    rc, out, err = run(["validate", "--config", p, "--adapter", "caddyfile"])
    check("validate ok: {$VAR} secret", rc == 0, (out + err)[-300:])
    for name, (lines, line) in cases.items():
        p = write(f"{WORK}/Caddyfile.bad", base_ok.replace("LINES", lines))
        rc, out, err = run(["validate", "--config", p, "--adapter", "caddyfile"], env=env)
        msg = out + err
        errl = [l for l in msg.splitlines() if '"level":"error"' in l or "Valid configuration" in l]
        short = (errl[-1] if errl else msg[-300:])[:400]
        check(f"validate fails: {name}", rc != 0, short)
        if line is not None:
            check(f"validate message names line: {name}", re.search(rf"Caddyfile\.bad:{line}\b", msg) is not None or f"line {line}" in msg, short)
        print(f"INFO validate {name}: {msg.strip().splitlines()[-1][:300] if msg.strip() else ''}")


if __name__ == "__main__":
    main()
