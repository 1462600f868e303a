package jwtverify

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The causes of refusals (Error.Err) are for logs: the net/http middleware
// logs them when its logger is enabled at debug. They say what was wrong
// with a token in terms of its structure — a part's length, an offset, a
// JSON type, a header or claim value cut short — and never quote the token
// or a whole part of it.
//
// Most refusals are never logged at debug, and hostile input refused early
// must stay cheap: a cause is formatted only when its text is read.

// cause is a refusal's cause, formatted by fmt when its text is read. Its
// arguments must not change afterwards: strings, numbers, errors, the
// configuration, or decoded header and claim values (which nothing
// changes once decoded).
type cause struct {
	format string
	args   []any
}

// causef returns a cause formatted as fmt.Sprintf(format, args...) when read.
func causef(format string, args ...any) error { return &cause{format: format, args: args} }

func (c *cause) Error() string { return fmt.Sprintf(c.format, c.args...) }

// maxClaimText bounds a header or claim value quoted in a cause.
const maxClaimText = 80

// claimValue formats a decoded header or claim value in a cause: as JSON,
// cut to maxClaimText bytes.
type claimValue struct{ v any }

func (c claimValue) String() string {
	b, err := json.Marshal(c.v)
	if err != nil {
		return "(" + jsonKind(c.v) + ")"
	}
	if len(b) <= maxClaimText {
		return string(b)
	}
	cut := maxClaimText
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

// notA is the cause of a header member or claim name whose value v is not
// what it must be (want: "a string", "an object").
func notA(name, want string, v any) error {
	return causef("%s is a JSON %s, not %s", name, jsonKind(v), want)
}

// notObject is the cause of a decoded token part (header or payload) that
// is not one JSON object: its length and how it starts, never its content.
// It is worked out at once, from the first byte only: data is in a buffer
// that is reused once the token is refused.
func notObject(part string, data []byte) error {
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	starts := "nothing"
	if i < len(data) {
		switch c := data[i]; {
		case c == '{':
			starts = "an object, but is not one valid JSON object"
		case c == '[':
			starts = "an array"
		case c == '"':
			starts = "a string"
		case c == '-' || '0' <= c && c <= '9':
			starts = "a number"
		case c == 't' || c == 'f' || c == 'n':
			starts = "a literal"
		default:
			starts = "no JSON value"
		}
	}
	return causef("%s: %d bytes that start as %s", part, len(data), starts)
}
