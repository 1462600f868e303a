package jsonobject

import (
	"unicode"
	"unicode/utf8"
)

// CaseTwins returns two member names of the same object within m (m
// itself, or an object nested in it at any depth; nested ones first) that
// are equal under Unicode simple case folding (strings.EqualFold), the
// lesser first, and whether there are such names: encoding/json would
// match both to one struct field.
func CaseTwins(m map[string]any) (a, b string, found bool) {
	for _, v := range m {
		if a, b, found = nestedCaseTwins(v); found {
			return a, b, true
		}
	}
	seen := make(map[string]string, len(m))
	for k := range m {
		f := foldName(k)
		if other, dup := seen[f]; dup {
			return min(k, other), max(k, other), true
		}
		seen[f] = k
	}
	return "", "", false
}

// nestedCaseTwins applies CaseTwins to the objects within v.
func nestedCaseTwins(v any) (a, b string, found bool) {
	switch v := v.(type) {
	case map[string]any:
		return CaseTwins(v)
	case []any:
		for _, e := range v {
			if a, b, found = nestedCaseTwins(e); found {
				return a, b, true
			}
		}
	}
	return "", "", false
}

// foldName maps every rune of s to the least rune of its case-folding
// orbit, so that foldName(a) == foldName(b) exactly when
// strings.EqualFold(a, b).
func foldName(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		out = utf8.AppendRune(out, least)
	}
	return string(out)
}
