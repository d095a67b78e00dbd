package caddymodule_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/authserver"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/fcm"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/hms"
)

// TestConfigurationPageCoversEveryOption holds docs/configuration.md to the
// code, so the two cannot drift: every subdirective a Caddyfile parser
// knows (the string cases of its switch) is named in backticks in the
// parser's section of the page, and so is every JSON field of the module's
// config (its json tags, nested structs included).
func TestConfigurationPageCoversEveryOption(t *testing.T) {
	raw, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	for _, s := range []struct {
		heading string   // the section's "## " heading
		file    string   // the parser's source
		fns     []string // the parser functions
		config  any      // the config struct
	}{
		{"## `sinch_hms`", "hms/caddyfile.go", []string{"UnmarshalCaddyfile"}, hms.Handler{}},
		{"## `sinch_fcm`", "fcm/caddyfile.go", []string{"UnmarshalCaddyfile"}, fcm.FCMHandler{}},
		{"## `sinch_oauth_server`", "authserver/caddyfile.go", []string{"UnmarshalCaddyfile"}, authserver.OAuthServer{}},
		{"## The `bearer` block", "endpoint/caddyfile.go", []string{"ParseBearer"}, endpoint.BearerConfig{}},
		{"## The Redis store block", "endpoint/caddyfile_store.go", []string{"parseRedisStore", "parseSentinel", "parseRedisTLS"}, endpoint.StoreConfig{}},
	} {
		section := sectionOf(t, page, s.heading)
		var names []string
		for _, fn := range s.fns {
			found := caseLabels(t, s.file, fn)
			if len(found) == 0 {
				t.Errorf("%s %s: no subdirectives found", s.file, fn)
			}
			names = append(names, found...)
		}
		for _, n := range append(names, jsonFields(reflect.TypeOf(s.config))...) {
			if !strings.Contains(section, n) {
				t.Errorf("docs/configuration.md, %s, does not name %q", s.heading, n)
			}
		}
	}
}

// sectionOf is the text from heading to the next "## " heading.
func sectionOf(t *testing.T, page, heading string) string {
	t.Helper()
	i := strings.Index(page, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/configuration.md has no heading %q", heading)
	}
	rest := page[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// caseLabels are the string literals of the case clauses in function fn of
// file.
func caseLabels(t *testing.T, file, fn string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, "`"+s+"`")
					}
				}
			}
			return true
		})
	}
	return out
}

// jsonFields are the json names of t's fields and of the structs they
// hold (the bearer and store blocks have sections of their own).
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, name)
		if sub := f.Type.String(); sub != "*endpoint.BearerConfig" && sub != "*endpoint.StoreConfig" { // their own sections
			out = append(out, jsonFields(f.Type)...)
		}
	}
	return out
}
