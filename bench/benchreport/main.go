// Command benchreport turns `go test -bench` output into the README's
// table: the median of each benchmark's runs (use -count), and the ratios
// the issue sets targets for.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./sinchauth ./caddymodule | go run ./bench/benchreport
//
// It reads only the standard benchmark line format, so it needs nothing
// beyond the standard library.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratios are the comparisons reported under the table. The interleaved
// benchmarks time both sides in one loop and report the ratio as a metric
// (unit); the ratio of two separate benchmarks' medians is printed too,
// but on a shared machine it is at the mercy of the load of the moment.
var ratios = []struct{ interleaved, unit, num, den, what string }{
	{"BenchmarkValidateVsBaseline", "validate/baseline", "BenchmarkValidate", "BenchmarkGolangJWTBaseline",
		"assertion validation / bare golang-jwt HS256 parse of the same token (target <= 1.5)"},
	{"BenchmarkServeHTTPVsRespond", "token/respond", "BenchmarkServeHTTPWarm", "BenchmarkStaticResponse",
		"token endpoint handler on a warm cache / Caddy's respond handler"},
}

// benchLine matches "BenchmarkName-8   123   456 ns/op   7 B/op ...".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// result collects every run's value of each unit for one benchmark.
type result struct {
	name   string
	values map[string][]float64 // unit -> one value per run
	units  []string             // in first-seen order
}

func main() {
	results, order, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Println("| benchmark | ns/op | B/op | allocs/op | other |")
	fmt.Println("|---|---|---|---|---|")
	for _, name := range order {
		r := results[name]
		var other []string
		for _, u := range r.units {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				other = append(other, format(median(r.values[u]))+" "+u)
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", strings.TrimPrefix(name, "Benchmark"),
			cell(r, "ns/op"), cell(r, "B/op"), cell(r, "allocs/op"), strings.Join(other, ", "))
	}
	fmt.Println()
	for _, q := range ratios {
		fmt.Printf("%s:", q.what)
		if r := results[q.interleaved]; r != nil && len(r.values[q.unit]) > 0 {
			fmt.Printf(" %.2f interleaved (runs: %s);", median(r.values[q.unit]), list(r.values[q.unit]))
		}
		n, d := results[q.num], results[q.den]
		if n != nil && d != nil && len(n.values["ns/op"]) > 0 && len(d.values["ns/op"]) > 0 {
			fmt.Printf(" %.2f from separate medians", median(n.values["ns/op"])/median(d.values["ns/op"]))
		}
		fmt.Println()
	}
}

// parse reads benchmark lines and groups their values by benchmark name.
func parse(in io.Reader) (map[string]*result, []string, error) {
	results := map[string]*result{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		r := results[m[1]]
		if r == nil {
			r = &result{name: m[1], values: map[string][]float64{}}
			results[m[1]] = r
			order = append(order, m[1])
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if _, seen := r.values[f[i+1]]; !seen {
				r.units = append(r.units, f[i+1])
			}
			r.values[f[i+1]] = append(r.values[f[i+1]], v)
		}
	}
	return results, order, sc.Err()
}

// list prints every run's value, for the spread.
func list(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = format(v)
	}
	return strings.Join(s, " ")
}

func cell(r *result, unit string) string {
	vs := r.values[unit]
	if len(vs) == 0 {
		return ""
	}
	return format(median(vs))
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// format prints a value with as many decimals as its size needs.
func format(v float64) string {
	switch {
	case v >= 100 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
