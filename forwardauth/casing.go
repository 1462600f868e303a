package forwardauth

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// A case-blind server takes two paths for one when they are equal after
// some case mapping of its platform: simple case folding (Go's EqualFold,
// .NET's OrdinalIgnoreCase), upper- or lower-casing each character (Java's
// equalsIgnoreCase compares both: ı and İ are i to it, as to Go's ToUpper
// and ToLower), or upper-casing whole strings with the full mappings of
// Unicode's SpecialCasing.txt, where one character becomes several (Java's
// and JavaScript's toUpperCase, Python's upper and casefold: ß is SS, ﬁ is
// FI). foldCase maps a path to a key that is the same for all of these, so
// a case-blind reading of a path is matched against the routes' keys.
//
// Paths holding such characters are not refused outright: /straße and
// /café are paths like any other, and they are refused, as every loose
// reading is, only when their key falls to a route that asks more than the
// route of the path as sent (/adm%C4%B1n/ to an /admin/ route). A key that
// merges more than one platform would (the union of all of them) can only
// refuse more, never let more through.

// caseClasses relates each rune to the others a case-blind server may take
// it for: the classes of the transitive closure of simple folding, ToUpper,
// ToLower and ToTitle, each named by its least rune.
type caseClasses struct {
	// least is the least rune of the class of each non-ASCII rune that is
	// not the least of its own class (ı, İ: I; ſ: S; the Kelvin sign: K).
	least map[rune]rune
	// expansion is, for the least rune of a class holding a rune whose
	// full upper-case mapping is longer than one rune, the key of that
	// mapping (ß and ẞ: "SS").
	expansion map[rune]string
}

// specialUpper are the unconditional full upper-case mappings of Unicode's
// SpecialCasing.txt that are longer than one rune (Unicode 15, as
// golang.org/x/text/cases maps them): the runes that Java's, JavaScript's
// and Python's upper-casing of a string expands. The language-dependent
// mappings (Turkish, Lithuanian) need no entry: they map between runes of
// one class of caseClasses.
var specialUpper = map[rune]string{
	0x00DF: "SS", 0x0149: "\u02BCN", 0x01F0: "J\u030C", 0x0390: "\u0399\u0308\u0301",
	0x03B0: "\u03A5\u0308\u0301", 0x0587: "\u0535\u0552", 0x1E96: "H\u0331", 0x1E97: "T\u0308",
	0x1E98: "W\u030A", 0x1E99: "Y\u030A", 0x1E9A: "A\u02BE", 0x1F50: "\u03A5\u0313",
	0x1F52: "\u03A5\u0313\u0300", 0x1F54: "\u03A5\u0313\u0301", 0x1F56: "\u03A5\u0313\u0342", 0x1F80: "\u1F08\u0399",
	0x1F81: "\u1F09\u0399", 0x1F82: "\u1F0A\u0399", 0x1F83: "\u1F0B\u0399", 0x1F84: "\u1F0C\u0399",
	0x1F85: "\u1F0D\u0399", 0x1F86: "\u1F0E\u0399", 0x1F87: "\u1F0F\u0399", 0x1F88: "\u1F08\u0399",
	0x1F89: "\u1F09\u0399", 0x1F8A: "\u1F0A\u0399", 0x1F8B: "\u1F0B\u0399", 0x1F8C: "\u1F0C\u0399",
	0x1F8D: "\u1F0D\u0399", 0x1F8E: "\u1F0E\u0399", 0x1F8F: "\u1F0F\u0399", 0x1F90: "\u1F28\u0399",
	0x1F91: "\u1F29\u0399", 0x1F92: "\u1F2A\u0399", 0x1F93: "\u1F2B\u0399", 0x1F94: "\u1F2C\u0399",
	0x1F95: "\u1F2D\u0399", 0x1F96: "\u1F2E\u0399", 0x1F97: "\u1F2F\u0399", 0x1F98: "\u1F28\u0399",
	0x1F99: "\u1F29\u0399", 0x1F9A: "\u1F2A\u0399", 0x1F9B: "\u1F2B\u0399", 0x1F9C: "\u1F2C\u0399",
	0x1F9D: "\u1F2D\u0399", 0x1F9E: "\u1F2E\u0399", 0x1F9F: "\u1F2F\u0399", 0x1FA0: "\u1F68\u0399",
	0x1FA1: "\u1F69\u0399", 0x1FA2: "\u1F6A\u0399", 0x1FA3: "\u1F6B\u0399", 0x1FA4: "\u1F6C\u0399",
	0x1FA5: "\u1F6D\u0399", 0x1FA6: "\u1F6E\u0399", 0x1FA7: "\u1F6F\u0399", 0x1FA8: "\u1F68\u0399",
	0x1FA9: "\u1F69\u0399", 0x1FAA: "\u1F6A\u0399", 0x1FAB: "\u1F6B\u0399", 0x1FAC: "\u1F6C\u0399",
	0x1FAD: "\u1F6D\u0399", 0x1FAE: "\u1F6E\u0399", 0x1FAF: "\u1F6F\u0399", 0x1FB2: "\u1FBA\u0399",
	0x1FB3: "\u0391\u0399", 0x1FB4: "\u0386\u0399", 0x1FB6: "\u0391\u0342", 0x1FB7: "\u0391\u0342\u0399",
	0x1FBC: "\u0391\u0399", 0x1FC2: "\u1FCA\u0399", 0x1FC3: "\u0397\u0399", 0x1FC4: "\u0389\u0399",
	0x1FC6: "\u0397\u0342", 0x1FC7: "\u0397\u0342\u0399", 0x1FCC: "\u0397\u0399", 0x1FD2: "\u0399\u0308\u0300",
	0x1FD3: "\u0399\u0308\u0301", 0x1FD6: "\u0399\u0342", 0x1FD7: "\u0399\u0308\u0342", 0x1FE2: "\u03A5\u0308\u0300",
	0x1FE3: "\u03A5\u0308\u0301", 0x1FE4: "\u03A1\u0313", 0x1FE6: "\u03A5\u0342", 0x1FE7: "\u03A5\u0308\u0342",
	0x1FF2: "\u1FFA\u0399", 0x1FF3: "\u03A9\u0399", 0x1FF4: "\u038F\u0399", 0x1FF6: "\u03A9\u0342",
	0x1FF7: "\u03A9\u0342\u0399", 0x1FFC: "\u03A9\u0399", 0xFB00: "FF", 0xFB01: "FI",
	0xFB02: "FL", 0xFB03: "FFI", 0xFB04: "FFL", 0xFB05: "ST",
	0xFB06: "ST", 0xFB13: "\u0544\u0546", 0xFB14: "\u0544\u0535", 0xFB15: "\u0544\u053B",
	0xFB16: "\u054E\u0546", 0xFB17: "\u0544\u053D",
}

// theCaseClasses are built once, at the first use.
var theCaseClasses = sync.OnceValue(func() *caseClasses {
	parent := map[rune]rune{}
	find := func(r rune) rune {
		for {
			p, ok := parent[r]
			if !ok || p == r {
				return r
			}
			r = p
		}
	}
	union := func(a, b rune) {
		ra, rb := find(a), find(b)
		switch {
		case ra < rb:
			parent[rb] = ra
		case rb < ra:
			parent[ra] = rb
		}
	}
	// Every rune that some mapping changes is in a CaseRange; the runes of
	// its folding orbit are reached from it.
	for _, cr := range unicode.CaseRanges {
		for r := rune(cr.Lo); r <= rune(cr.Hi); r++ {
			union(r, unicode.ToUpper(r))
			union(r, unicode.ToLower(r))
			union(r, unicode.ToTitle(r))
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				union(r, f)
			}
		}
	}
	c := &caseClasses{least: map[rune]rune{}, expansion: map[rune]string{}}
	for r := range parent {
		if least := find(r); least != r && r >= utf8.RuneSelf {
			c.least[r] = least
		}
	}
	for r, upper := range specialUpper {
		var key strings.Builder
		for _, u := range upper {
			key.WriteRune(c.fold(u))
		}
		c.expansion[c.fold(r)] = key.String()
	}
	return c
})

// fold is the least rune of r's class.
func (c *caseClasses) fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - ('a' - 'A')
		}
		return r
	}
	if least, ok := c.least[r]; ok {
		return least
	}
	return r
}

// changes reports whether foldCase changes r.
func (c *caseClasses) changes(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z'
	}
	f := c.fold(r)
	if f != r {
		return true
	}
	_, ok := c.expansion[f]
	return ok
}

// foldCase is the case-blind key of s: each rune replaced by the least of
// its class, or by the key of its full upper-case mapping when that is
// longer (see caseClasses), so that two paths a case-blind server takes
// for one have the same key. Bytes that are not UTF-8 are kept as they
// are.
func foldCase(s string) string {
	c := theCaseClasses()
	i := strings.IndexFunc(s, c.changes)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		f := c.fold(r)
		if x, ok := c.expansion[f]; ok {
			b.WriteString(x)
		} else {
			b.WriteRune(f)
		}
		i += size
	}
	return b.String()
}

// foldPattern is the path of a pattern case-folded outside its {wildcards},
// whose names must stay distinct.
func foldPattern(path string) string {
	var b strings.Builder
	for path != "" {
		open := strings.IndexByte(path, '{')
		if open < 0 {
			b.WriteString(foldCase(path))
			break
		}
		b.WriteString(foldCase(path[:open]))
		end := strings.IndexByte(path[open:], '}')
		if end < 0 {
			b.WriteString(path[open:])
			break
		}
		b.WriteString(path[open : open+end+1])
		path = path[open+end+1:]
	}
	return b.String()
}
