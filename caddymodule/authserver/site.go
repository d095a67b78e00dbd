package authserver

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// The default issuer: the origin of the site the directive is in, as the
// Caddyfile configures it, never a request's Host (the caller's to
// choose).

// siteKeys are the addresses of the site block that h's directive is in.
//
// httpcaddyfile.Helper keeps its server block in an unexported field and
// offers no method for its keys (Caddy v2.11.9), so they are read through
// reflection, read-only. Should a later Caddy rename the field, siteKeys
// reports that, and the Caddyfile then needs `issuer`: the default is never
// taken from anywhere else. TestSiteOriginFromHelper holds it to the
// pinned Caddy.
func siteKeys(h httpcaddyfile.Helper) ([]string, error) {
	block := reflect.ValueOf(h).FieldByName("parentBlock")
	if !block.IsValid() || block.Kind() != reflect.Struct {
		return nil, errors.New("this Caddy does not tell a directive its site's addresses")
	}
	if named := block.FieldByName("IsNamedRoute"); named.IsValid() && named.Kind() == reflect.Bool && named.Bool() {
		return nil, errors.New("a named route has no site address")
	}
	keys := block.FieldByName("Keys")
	if !keys.IsValid() || keys.Kind() != reflect.Slice {
		return nil, errors.New("this Caddy does not tell a directive its site's addresses")
	}
	out := make([]string, 0, keys.Len())
	for i := range keys.Len() {
		text := keys.Index(i).FieldByName("Text")
		if !text.IsValid() || text.Kind() != reflect.String {
			return nil, errors.New("this Caddy does not tell a directive its site's addresses")
		}
		out = append(out, text.String())
	}
	return out, nil
}

// siteOrigin is the one origin (scheme://host[:port]) the site keys name,
// as Caddy serves them with the global options httpPort, httpsPort and
// autoHTTPSOff. A key without a fixed host (`:8080`, `http://`, a
// wildcard, a placeholder) or keys naming different origins give an
// error: then the issuer must be configured.
func siteOrigin(keys []string, httpPort, httpsPort int, autoHTTPSOff bool) (string, error) {
	var origins []string
	for _, key := range keys {
		addr, err := httpcaddyfile.ParseAddress(key)
		if err != nil {
			return "", fmt.Errorf("site address %q: %v", key, err)
		}
		if addr.Host == "" || strings.ContainsAny(addr.Host, "*{}") {
			return "", fmt.Errorf("site address %q has no fixed host name", key)
		}
		scheme := addr.Scheme
		port := addr.Port
		switch {
		case scheme != "":
		case port == strconv.Itoa(httpPort) || autoHTTPSOff:
			scheme = "http"
		default:
			scheme = "https"
		}
		if port == "" {
			port = strconv.Itoa(httpsPort)
			if scheme == "http" {
				port = strconv.Itoa(httpPort)
			}
		}
		host := strings.ToLower(addr.Host)
		if strings.Contains(host, ":") { // IPv6
			host = "[" + host + "]"
		}
		origin := scheme + "://" + host
		if (scheme == "http" && port != "80") || (scheme == "https" && port != "443") {
			origin += ":" + port
		}
		if !slices.Contains(origins, origin) {
			origins = append(origins, origin)
		}
	}
	switch len(origins) {
	case 0:
		return "", errors.New("the site has no address")
	case 1:
		return origins[0], nil
	}
	return "", fmt.Errorf("the site's addresses name %d origins (%s): which one issues is not for a request to choose",
		len(origins), strings.Join(origins, ", "))
}

// defaultIssuer is the issuer of a sinch_oauth_server without `issuer`:
// its site's origin. The error says why there is none.
func defaultIssuer(h httpcaddyfile.Helper) (string, error) {
	keys, err := siteKeys(h)
	if err != nil {
		return "", err
	}
	httpPort, httpsPort := 80, 443
	if p, ok := h.Option("http_port").(int); ok {
		httpPort = p
	}
	if p, ok := h.Option("https_port").(int); ok {
		httpsPort = p
	}
	autoOff := false
	if v, ok := h.Option("auto_https").([]string); ok {
		autoOff = slices.Contains(v, "off")
	}
	return siteOrigin(keys, httpPort, httpsPort, autoOff)
}
