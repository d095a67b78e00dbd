package main

import (
	"strings"
	"testing"
)

func TestParseGroupsRunsAndUnits(t *testing.T) {
	out := `goos: linux
pkg: github.com/hmsgate/caddy-sinch-hms/sinchauth
BenchmarkValidate-2   	   71334	     22244 ns/op	    5514 B/op	      81 allocs/op
BenchmarkValidate-2   	   71334	     20000 ns/op	    5500 B/op	      81 allocs/op
BenchmarkValidate-2   	   71334	     30000 ns/op	    5510 B/op	      81 allocs/op
BenchmarkReplayClaim/live=1000-2         	 1716501	       588.8 ns/op	        85.27 bytes/nonce	       0 B/op	       0 allocs/op
BenchmarkValidateVsBaseline   	   10	    119728 ns/op	         2.033 validate/baseline
PASS
`
	results, order, err := parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"BenchmarkValidate", "BenchmarkReplayClaim/live=1000", "BenchmarkValidateVsBaseline"}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("order = %v, want %v", order, want)
	}
	if got := median(results["BenchmarkValidate"].values["ns/op"]); got != 22244 {
		t.Errorf("median ns/op = %v, want 22244", got)
	}
	if got := results["BenchmarkReplayClaim/live=1000"].values["bytes/nonce"]; len(got) != 1 || got[0] != 85.27 {
		t.Errorf("bytes/nonce = %v", got)
	}
	if got := results["BenchmarkValidateVsBaseline"].values["validate/baseline"]; len(got) != 1 || got[0] != 2.033 {
		t.Errorf("validate/baseline = %v (a name without -N suffix must parse too)", got)
	}
}

func TestMedianEvenCount(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}
