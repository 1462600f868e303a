// Command benchtable turns `go test -bench` output (any number of runs of
// the same benchmarks, as -count or repeated runs append them) into the
// Markdown tables of bench/README.md: the median ns/op, B/op and allocs/op
// of each benchmark, its speed as a ratio to the anchor (echojwt-keyfunc)
// and to the fastest peer, and the goals checked against them.
//
//	go run ./cmd/benchtable results/jwt-reused.txt results/jwt-fresh.txt
//
// benchstat gives the same medians with confidence intervals; this adds the
// ratios.
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

	"github.com/keyward/keyward/bench/internal/suite"
)

// sample is one measurement of one benchmark.
type sample struct{ ns, cpu, bytes, allocs float64 }

// series are the samples of one benchmark, named without its impl= part.
type series struct {
	row    string // the name less "/impl=…" and the GOMAXPROCS suffix
	impl   string // "" for benchmarks without impl=
	sample []sample
}

func (s *series) median(f func(sample) float64) float64 {
	v := make([]float64, len(s.sample))
	for i, x := range s.sample {
		v[i] = f(x)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s *series) ns() float64     { return s.median(func(x sample) float64 { return x.ns }) }
func (s *series) cpu() float64    { return s.median(func(x sample) float64 { return x.cpu }) }
func (s *series) bytes() float64  { return s.median(func(x sample) float64 { return x.bytes }) }
func (s *series) allocs() float64 { return s.median(func(x sample) float64 { return x.allocs }) }

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	var (
		all   []*series
		index = map[string]*series{}
		info  []string
	)
	read := func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if k, _, ok := strings.Cut(line, ": "); ok && (k == "cpu" || k == "goos" || k == "goarch") && !slices.Contains(info, line) {
				info = append(info, line)
			}
			f := strings.Fields(line)
			if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
				continue
			}
			name := procSuffix.ReplaceAllString(f[0], "")
			var x sample
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				switch f[i+1] {
				case "ns/op":
					x.ns = v
				case "cpu-ns/op":
					x.cpu = v
				case "B/op":
					x.bytes = v
				case "allocs/op":
					x.allocs = v
				}
			}
			s := index[name]
			if s == nil {
				s = &series{row: name}
				if row, impl, ok := strings.Cut(name, "/impl="); ok {
					s.row, s.impl = row, impl
				}
				index[name] = s
				all = append(all, s)
			}
			s.sample = append(s.sample, x)
		}
		return sc.Err()
	}
	if len(os.Args) == 1 {
		if err := read(os.Stdin); err != nil {
			fatal(err)
		}
	}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fatal(err)
		}
		err = read(f)
		f.Close()
		if err != nil {
			fatal(err)
		}
	}
	if len(all) == 0 {
		fatal(fmt.Errorf("no benchmark results in the input"))
	}
	for _, l := range info {
		fmt.Printf("%s  \n", l)
	}
	fmt.Println()
	fmt.Println("| benchmark | impl | ns/op | B/op | allocs/op | runs | × anchor | × fastest peer | cpu-ns/op | × anchor, cpu |")
	fmt.Println("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range all {
		anchor, fastest := peers(index, s.row)
		fmt.Printf("| %s | %s | %s | %.0f | %.0f | %d | %s | %s | %s | %s |\n",
			strings.TrimPrefix(s.row, "Benchmark"), dash(s.impl), ns(s.ns()), s.bytes(), s.allocs(), len(s.sample),
			ratio(anchor, s, (*series).ns), ratio(fastest, s, (*series).ns), cpuNS(s), ratio(anchor, s, (*series).cpu))
	}
	goals(all, index)
}

// peers returns the anchor's series and the fastest peer's in row.
func peers(index map[string]*series, row string) (anchor, fastest *series) {
	for _, p := range suite.Peers {
		s := index[row+"/impl="+p]
		if s == nil {
			continue
		}
		if p == suite.ImplAnchor {
			anchor = s
		}
		if fastest == nil || s.ns() < fastest.ns() {
			fastest = s
		}
	}
	return anchor, fastest
}

// goals checks the benchmark goals of issue 15 ("One clear house, second
// step") for every Keyward series: with a reused token at least 20x the
// anchor's speed and at most 5 allocs; with a fresh token at least 1.10x
// and at most 40 allocs (set for RS256, ES256 and EdDSA; PS256 is checked
// alike). Speed is judged on medians alone: whether a difference is
// significant is benchstat's to say.
func goals(all []*series, index map[string]*series) {
	var lines []string
	for _, s := range all {
		if !strings.HasPrefix(s.impl, "keyward-") {
			continue
		}
		anchor, _ := peers(index, s.row)
		if anchor == nil {
			continue
		}
		var (
			goal     string
			need     float64
			allocsOK bool
		)
		switch {
		case strings.Contains(s.row, "/token=reused"):
			goal, need, allocsOK = "≥ 20x, ≤ 5 allocs", 20, s.allocs() <= 5
		case strings.Contains(s.row, "/token=fresh"):
			goal, need, allocsOK = "≥ 1.10x, ≤ 40 allocs", 1.10, s.allocs() <= 40
		default:
			continue
		}
		speed := func(m func(*series) float64) string {
			switch {
			case m(anchor) == 0 || m(s) == 0:
				return "–"
			case m(anchor)/m(s) >= need:
				return "met"
			}
			return "**not met**"
		}
		allocs := "met"
		if !allocsOK {
			allocs = "**not met**"
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %.0f (anchor %.0f) | %s | %s | %s | %s |",
			strings.TrimPrefix(s.row, "Benchmark"), s.impl, ratio(anchor, s, (*series).ns), ratio(anchor, s, (*series).cpu),
			s.allocs(), anchor.allocs(), goal, speed((*series).ns), speed((*series).cpu), allocs))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("| benchmark | impl | × anchor | × anchor, cpu | allocs/op | goal | speed by ns/op | speed by cpu-ns/op | allocs |")
	fmt.Println("|---|---|--:|--:|--:|---|---|---|---|")
	for _, l := range lines {
		fmt.Println(l)
	}
}

// ratio is how many times faster s is than base by metric m.
func ratio(base, s *series, m func(*series) float64) string {
	if base == nil || m(base) == 0 || m(s) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", m(base)/m(s))
}

func cpuNS(s *series) string {
	if s.cpu() == 0 {
		return "–"
	}
	return ns(s.cpu())
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// ns formats nanoseconds: whole from 100 up, else with a decimal or two.
func ns(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}
