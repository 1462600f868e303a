// Package excerpt quotes a configured value for an error message, cut short
// so that messages never carry much of a configuration (a value may be a
// secret set in the wrong place). It is shared by dualauth, forwardauth and
// the config file, and imports nothing of theirs.
package excerpt

import "strconv"

// maxRunes is how much of a value a message shows.
const maxRunes = 40

// Quote returns s Go-quoted, cut to its first 40 runes followed by "…" when
// longer.
func Quote(s string) string {
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}
