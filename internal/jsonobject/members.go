package jsonobject

import "unsafe"

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of JSON values; Absent is the zero Kind, of the zero Value.
const (
	Absent Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// Value is one value of a document that Members read: its JSON text, a
// part of the document, and its kind. The zero Value is Absent: a member
// that was not found.
type Value struct {
	raw  string
	kind Kind
}

// Kind is v's JSON type.
func (v Value) Kind() Kind { return v.kind }

// Raw is v's JSON text, a part of the document: a number's digits, for
// instance, as json.Number would hold them.
func (v Value) Raw() string { return v.raw }

// Text is the string v holds, decoded as DecodeString decodes it: a part
// of the document when written without escapes and in valid UTF-8, else a
// copy. ok is false when v is not a string.
func (v Value) Text() (text string, ok bool) {
	if v.kind != String {
		return "", false
	}
	s := scanner{data: bytesOf(v.raw)}
	text, err := s.string()
	return text, err == nil
}

// Elements yields the elements of v, an array; nothing for another kind.
func (v Value) Elements(yield func(Value) bool) {
	if v.kind != Array {
		return
	}
	s := scanner{data: bytesOf(v.raw)}
	s.i++ // '['
	for s.space(); s.peek() != ']'; s.space() {
		if !yield(s.member()) {
			return
		}
		s.space()
		if s.peek() == ',' {
			s.i++
		}
	}
}

// Decode is v as DecodeString decodes a member's value: nil for Null and
// for Absent, strings and numbers sharing the document's bytes.
func (v Value) Decode() any {
	if v.kind == Absent {
		return nil
	}
	s := scanner{data: bytesOf(v.raw)}
	d, err := s.value()
	if err != nil {
		return nil // not reached: the document is valid JSON
	}
	return d
}

// Members reads data, a JWT header or claims set, as DecodeString does
// (the same documents are accepted: one JSON object and nothing else), and
// calls visit with the name and value of each of its members in order,
// duplicates included: a caller that keeps the last of a name agrees with
// DecodeString, whose map keeps the last. Names are decoded as
// DecodeString decodes them; values are not decoded.
func Members(data string, visit func(name string, v Value)) error {
	s := scanner{data: bytesOf(data)} // read only
	if !valid(s.data) {
		return ErrNotObject
	}
	s.space()
	if s.peek() != '{' {
		return ErrNotObject
	}
	s.i++
	for s.space(); s.peek() == '"'; s.space() {
		name, err := s.string()
		if err != nil {
			return ErrNotObject // not reached: the name is valid JSON
		}
		s.space()
		s.i++ // ':'
		s.space()
		visit(name, s.member())
		s.space()
		if s.peek() == ',' {
			s.i++
		}
	}
	return nil
}

// member moves past the value at s.i and returns it.
func (s *scanner) member() Value {
	start := s.i
	var kind Kind
	switch c := s.peek(); {
	case c == '"':
		kind = String
	case c == '{':
		kind = Object
	case c == '[':
		kind = Array
	case c == 't' || c == 'f':
		kind = Bool
	case c == 'n':
		kind = Null
	default:
		kind = Number
	}
	s.skipValue()
	b := s.data[start:s.i]
	return Value{raw: unsafe.String(unsafe.SliceData(b), len(b)), kind: kind}
}

// bytesOf views s as bytes, for reading only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
