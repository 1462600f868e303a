package jwks

import (
	"bytes"
	"encoding/json"
)

// decodeKeySet returns the members of the "keys" array of a JWK Set document
// (RFC 7517 §5), unparsed. A body that is not a JSON object with a "keys"
// array ({}, null, {"keys":null}, an error document) is no key set: it fails,
// so that the keys held are kept. Other top-level members are ignored.
func decodeKeySet(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, setError("empty response")
	case !json.Valid(body):
		return nil, setError("response is not valid JSON")
	case body[0] != '{':
		return nil, setError("response is not a JWK Set (not a JSON object)")
	}
	var doc map[string]json.RawMessage // exact member names, unlike a struct
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, setError("response is not valid JSON")
	}
	keys := bytes.TrimSpace(doc["keys"])
	if len(keys) == 0 || keys[0] != '[' {
		return nil, setError(`response is not a JWK Set (no "keys" array)`)
	}
	var members []json.RawMessage
	if err := json.Unmarshal(keys, &members); err != nil {
		return nil, setError(`response is not a JWK Set (no "keys" array)`)
	}
	return members, nil
}

// setError is the error of a JWK Set response that arrived but is unusable.
func setError(desc string) error {
	return &fetchError{msg: "jwks: fetching JWK Set: " + desc}
}
