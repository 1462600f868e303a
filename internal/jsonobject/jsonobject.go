// Package jsonobject decodes the JSON objects of JWT headers and claims
// sets as encoding/json with UseNumber would, at a fraction of the cost.
package jsonobject

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// ErrNotObject is the error of a document that is not one JSON object.
var ErrNotObject = errors.New("jsonobject: not a JSON object")

// Decode decodes a JWT header or claims set: one JSON object whose
// members become map entries (the last of duplicate names wins, as in
// encoding/json), numbers as json.Number, nested objects as map[string]any
// and arrays as []any — what encoding/json with UseNumber gives, at a
// fraction of its cost for the flat objects tokens are.
//
// The document is first checked by json.Valid, so the scan below only
// walks a well-formed object; a string with escapes or invalid UTF-8, and
// every nested value, is decoded by encoding/json itself.
func Decode(data []byte) (map[string]any, error) {
	if !json.Valid(data) {
		return nil, ErrNotObject
	}
	s := scanner{data: data}
	s.space()
	if s.next() != '{' {
		return nil, ErrNotObject
	}
	m := make(map[string]any, 12)
	s.space()
	if s.peek() == '}' {
		return m, nil
	}
	for {
		s.space()
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
		if s.next() == '}' {
			return m, nil
		}
	}
}

// scanner walks a document json.Valid accepted.
type scanner struct {
	data []byte
	i    int
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
	s.i++ // '"'
	plain := true
	for {
		switch c := s.next(); {
		case c == '"':
			raw := s.data[start:s.i]
			if plain && utf8.Valid(raw) {
				return string(raw[1 : len(raw)-1]), nil
			}
			var out string
			err := json.Unmarshal(raw, &out)
			return out, err
		case c == '\\':
			plain = false
			s.i++ // the escaped byte; \uXXXX's hex digits are plain
		}
	}
}

// value decodes the value at s.i.
func (s *scanner) value() (any, error) {
	switch c := s.peek(); c {
	case '"':
		return s.string()
	case '{', '[':
		raw := s.nested()
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		return v, err
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
	return json.Number(s.data[start:s.i]), nil
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// skipString moves past the string at s.i.
func (s *scanner) skipString() {
	s.i++ // '"'
	for {
		switch s.next() {
		case '"':
			return
		case '\\':
			s.i++
		}
	}
}

// nested returns the object or array at s.i, whole.
func (s *scanner) nested() []byte {
	start, depth := s.i, 0
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
			return s.data[start:s.i]
		}
	}
}
