package forwardauth

import (
	"testing"
	"unicode"
)

// TestFoldCaseEveryRune: the case-blind key of every rune is the key of its
// upper, lower and title case and of every rune of its folding orbit. So
// two runes that Java's equalsIgnoreCase takes for one (equal upper cases,
// or equal lower cases of their upper cases), or Go's EqualFold, ToUpper
// and ToLower, have one key: ı and İ are i.
func TestFoldCaseEveryRune(t *testing.T) {
	t.Parallel()
	failures := 0
	for r := rune(0); r <= unicode.MaxRune && failures < 10; r++ {
		if 0xD800 <= r && r <= 0xDFFF {
			continue // surrogates are no runes of a string
		}
		key := foldCase(string(r))
		for _, m := range []struct {
			name string
			of   func(rune) rune
		}{
			{"ToUpper", unicode.ToUpper}, {"ToLower", unicode.ToLower}, {"ToTitle", unicode.ToTitle},
			{"SimpleFold", unicode.SimpleFold},
			{"Java's lower of upper", func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }},
		} {
			if other := m.of(r); foldCase(string(other)) != key {
				t.Errorf("%U %q: key %q, but %s is %U with key %q", r, r, key, m.name, other, foldCase(string(other)))
				failures++
			}
		}
	}
}

// TestFoldCase: runes a case-blind server takes for ASCII letters, and the
// full upper-case mappings that expand one rune into several, have the
// key of what they are read as; letters that are not alike keep keys of
// their own.
func TestFoldCase(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"/admin", "/ADMIN", true},
		{"/adm\u0131n", "/admin", true}, // dotless ı: I to ToUpper and Java
		{"/ADM\u0130N", "/admin", true}, // dotted İ: i to ToLower and Java
		{"/\u0131nvoices", "/Invoices", true},
		{"/\u212aeys", "/keys", true},         // the Kelvin sign
		{"/invoice\u017f", "/INVOICES", true}, // the long s
		{"/stra\u00dfe", "/STRASSE", true},    // ß: SS to Java's toUpperCase
		{"/STRA\u1e9eE", "/strasse", true},    // ẞ: ß to ToLower
		{"/\ufb01les", "/files", true},        // ﬁ: FI
		{"/\ufb03x", "/FFIX", true},           // ﬃ: FFI
		{"/\u0149", "/\u02bcn", true},         // ŉ: ʼN
		{"/\u1f80", "/\u1f08\u0399", true},    // ᾀ: ἈΙ
		{"/caf\u00e9", "/CAF\u00c9", true},
		{"/caf\u00e9", "/cafe", false},
		{"/admin", "/adnim", false},
		{"/a-b", "/a_b", false},
		{"/x\xffy", "/X\xffY", true}, // not UTF-8: kept
	} {
		if got := foldCase(tt.a) == foldCase(tt.b); got != tt.same {
			t.Errorf("%q (key %q) and %q (key %q): same %v; want %v", tt.a, foldCase(tt.a), tt.b, foldCase(tt.b), got, tt.same)
		}
	}
}
