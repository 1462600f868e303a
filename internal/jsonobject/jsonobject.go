// Package jsonobject decodes the JSON objects of JWT headers and claims
// sets as encoding/json with UseNumber would, at a fraction of the cost:
// into a map (Decode), or member by member without decoding the values a
// caller does not read (Members).
package jsonobject

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
	"unsafe"
)

// ErrNotObject is the error of a document that is not one JSON object.
var ErrNotObject = errors.New("jsonobject: not a JSON object")

// DecodeString decodes a JWT header or claims set: one JSON object whose
// members become map entries (the last of duplicate names wins, as in
// encoding/json), numbers as json.Number, nested objects as map[string]any
// and arrays as []any — what encoding/json with UseNumber gives, at a
// fraction of its cost for the flat objects tokens are.
//
// The document is first checked as json.Valid would check it (see valid),
// so the scan below only walks a well-formed document; a string with
// escapes or invalid UTF-8 is decoded by encoding/json itself.
//
// The names and the strings and numbers without escapes are substrings of
// data rather than copies: they cost no allocation, and keep data alive.
func DecodeString(data string) (map[string]any, error) {
	// The scanner only reads: data stays as immutable as a string is.
	return decode(scanner{data: unsafe.Slice(unsafe.StringData(data), len(data))})
}

func decode(s scanner) (map[string]any, error) {
	if !valid(s.data) {
		return nil, ErrNotObject
	}
	s.space()
	if s.peek() != '{' {
		return nil, ErrNotObject
	}
	// Room for a typical JOSE header (a map of up to 8 entries costs two
	// allocations), or for a typical claims set (up to 12, four).
	if len(s.data) < maxHeaderLen {
		return s.object(8)
	}
	return s.object(12)
}

// maxHeaderLen is the length below which a document is taken for a JOSE
// header when sizing its map.
const maxHeaderLen = 160

// Member decodes the member name of the JSON object data as DecodeString
// would (the last of duplicate names wins), without decoding the others.
func Member(data, name string) (value any, found bool, err error) {
	var last Value
	err = Members(data, func(n string, v Value) {
		if n == name {
			last = v
		}
	})
	if err != nil || last.kind == Absent {
		return nil, false, err
	}
	return last.Decode(), true, nil
}

// scanner walks a document valid accepted.
type scanner struct {
	data []byte // a string's bytes, read only: strings may point into it
	i    int
}

// text returns b, a part of s.data, as a string over the same bytes.
func (s *scanner) text(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) next() byte {
	c := s.peek()
	s.i++
	return c
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// string decodes the string at s.i.
func (s *scanner) string() (string, error) {
	start := s.i
	escaped := s.skipString()
	raw := s.data[start:s.i]
	if !escaped && utf8.Valid(raw) {
		return s.text(raw[1 : len(raw)-1]), nil
	}
	var out string
	err := json.Unmarshal(raw, &out)
	return out, err
}

// value decodes the value at s.i.
func (s *scanner) value() (any, error) {
	switch c := s.peek(); c {
	case '"':
		return s.string()
	case '{':
		return s.object(0)
	case '[':
		s.i++
		a := []any{} // not nil, as encoding/json makes it
		for s.space(); s.peek() != ']'; s.space() {
			v, err := s.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			s.space()
			if s.peek() == ',' {
				s.i++
			}
		}
		s.i++ // ']'
		return a, nil
	case 't':
		s.i += len("true")
		return true, nil
	case 'f':
		s.i += len("false")
		return false, nil
	case 'n':
		s.i += len("null")
		return nil, nil
	}
	start := s.i
	for s.i < len(s.data) && isNumberByte(s.data[s.i]) {
		s.i++
	}
	return json.Number(s.text(s.data[start:s.i])), nil
}

// object decodes the object at s.i into a map with room for size members.
func (s *scanner) object(size int) (map[string]any, error) {
	s.i++ // '{'
	m := make(map[string]any, size)
	for s.space(); s.peek() == '"'; s.space() {
		key, err := s.string()
		if err != nil {
			return nil, err
		}
		s.space()
		s.next() // ':'
		s.space()
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		m[key] = v
		s.space()
		if s.peek() == ',' {
			s.i++
		}
	}
	s.i++ // '}'
	return m, nil
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// skipString moves past the string at s.i and reports whether it has
// escapes. It looks for quotes and backslashes with bytes.IndexByte,
// many bytes at a time.
func (s *scanner) skipString() (escaped bool) {
	s.i++ // '"'
	for {
		rest := s.data[s.i:]
		quote := bytes.IndexByte(rest, '"')
		if quote < 0 { // not reached in a valid document
			s.i = len(s.data)
			return escaped
		}
		backslash := bytes.IndexByte(rest[:quote], '\\')
		if backslash < 0 {
			s.i += quote + 1
			return escaped
		}
		escaped = true
		s.i += backslash + 2 // past the backslash and the byte it escapes; \uXXXX's hex digits are plain
	}
}

// skipValue moves past the value at s.i.
func (s *scanner) skipValue() {
	switch s.peek() {
	case '"':
		s.skipString()
	case '{', '[':
		s.nested()
	default: // a number or a literal
		for s.i < len(s.data) && isNumberByte(s.data[s.i]) || 'a' <= s.peek() && s.peek() <= 'z' {
			s.i++
		}
	}
}

// nested moves past the object or array at s.i.
func (s *scanner) nested() {
	depth := 0
	for {
		switch s.peek() {
		case '"':
			s.skipString()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.i++
		if depth == 0 {
			return
		}
	}
}

// PlainNames reports whether every member name of the JSON document data,
// at any depth, is ASCII without capital letters and without escapes: no
// two such names are equal ignoring case unless they are the same. It
// reports false for a document that is not valid JSON.
func PlainNames(data string) bool {
	b := unsafe.Slice(unsafe.StringData(data), len(data)) // read only
	if !valid(b) {
		return false
	}
	s := scanner{data: b}
	// In a valid document a string is a member name exactly when the next
	// byte after it and any space is ':'.
	for s.i < len(s.data) {
		if s.data[s.i] != '"' {
			s.i++
			continue
		}
		start := s.i
		s.skipString()
		name := s.data[start+1 : s.i-1]
		s.space()
		if s.peek() == ':' && !isPlainName(name) {
			return false
		}
	}
	return true
}

// isPlainName reports whether the raw bytes of a JSON string are ASCII
// without capital letters or escapes.
func isPlainName(raw []byte) bool {
	for _, c := range raw {
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' || c == '\\' {
			return false
		}
	}
	return true
}
