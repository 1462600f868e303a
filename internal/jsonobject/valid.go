package jsonobject

// maxDepth is the deepest nesting of arrays and objects encoding/json
// accepts (its scanner's maxNestingDepth).
const maxDepth = 10000

// valid reports whether data is one JSON value with nothing but white
// space around it, as json.Valid does (strings may hold invalid UTF-8;
// nesting deeper than maxDepth is refused), in one pass without the cost
// of json.Valid's per-byte state functions.
func valid(data []byte) bool {
	var objects bitStack // per open container: whether it is an object
	i := skipSpace(data, 0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '{', '[':
			inObject := data[i] == '{'
			if !objects.push(inObject) {
				return false
			}
			if i = skipSpace(data, i+1); i < len(data) && data[i] == closing(inObject) {
				objects.pop()
				i++
				break
			}
			if inObject {
				if i = nameAndColon(data, i); i < 0 {
					return false
				}
			}
			continue // to the first member's value or element
		case '"':
			if i = stringEnd(data, i); i < 0 {
				return false
			}
		case 't':
			if i = literalEnd(data, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literalEnd(data, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literalEnd(data, i, "null"); i < 0 {
				return false
			}
		default:
			if i = numberEnd(data, i); i < 0 {
				return false
			}
		}
		// A value ended at i: close the containers it ends, and find
		// the start of the next value.
		for {
			i = skipSpace(data, i)
			if objects.n == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			inObject := objects.top()
			c := data[i]
			if c == ',' {
				if i = skipSpace(data, i+1); inObject {
					if i = nameAndColon(data, i); i < 0 {
						return false
					}
				}
				break
			}
			if c == closing(inObject) {
				objects.pop()
				i++
				continue
			}
			return false
		}
	}
}

// closing is the byte that closes an object, or else an array.
func closing(object bool) byte {
	if object {
		return '}'
	}
	return ']'
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// nameAndColon reads a member name and the colon after it at i, and
// returns where the member's value may start, or -1.
func nameAndColon(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = stringEnd(data, i); i < 0 {
		return -1
	}
	if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
		return -1
	}
	return skipSpace(data, i+1)
}

// stringEnd returns the index after the string at i, or -1.
func stringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return -1
				}
				for _, h := range data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// literalEnd returns the index after lit at i, or -1.
func literalEnd(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// numberEnd returns the index after the number at i (RFC 8259 §6), or -1.
func numberEnd(data []byte, i int) int {
	digits := func(i int) (int, bool) { // one or more
		start := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i, _ = digits(i)
	default:
		return -1
	}
	ok := true
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	return i
}

// bitStack is a stack of booleans, one bit each, on the stack of its
// caller up to a depth of 128.
type bitStack struct {
	small [2]uint64
	large []uint64 // beyond 128
	n     int
}

// push pushes b, or reports false past maxDepth.
func (s *bitStack) push(b bool) bool {
	if s.n >= maxDepth {
		return false
	}
	word, bit := s.n/64, uint(s.n%64)
	s.n++
	w := s.word(word)
	if b {
		*w |= 1 << bit
	} else {
		*w &^= 1 << bit
	}
	return true
}

func (s *bitStack) pop() { s.n-- }

func (s *bitStack) top() bool {
	i := s.n - 1
	return *s.word(i / 64)&(1<<uint(i%64)) != 0
}

func (s *bitStack) word(i int) *uint64 {
	if i < len(s.small) {
		return &s.small[i]
	}
	for len(s.large) <= i-len(s.small) {
		s.large = append(s.large, 0)
	}
	return &s.large[i-len(s.small)]
}
