package jsonobject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// referenceDecode is what encoding/json with UseNumber makes of an object.
func referenceDecode(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // something follows the object
	}
	return m, true
}

var objectSeeds = []string{
	`{}`,
	` { "a" : 1 , "b":"x" } `,
	`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`,
	`{"iss":"https://i","aud":["a","b"],"exp":1.5e9,"nbf":-0,"scope":"a b","n":null,"t":true,"f":false}`,
	`{"a":1,"a":2}`,
	`{"esc":"\"q\" \\ \/ \u00e9 \ud83d\ude00","k\u0041":"v"}`,
	"{\"bad\":\"\xff\xfe\"}",
	`{"nested":{"roles":["x",{"y":[1,2,{"z":"}]"}]}],"s":"]}"}}`,
	`{"big":1e400,"neg":-1e400,"frac":0.000001}`,
	`{"sub":"a","Sub":"b","s\u017fb":"c"}`, `{"x":{"Deep":[{"deeper":{"ID":1}}]},"e":[],"o":{}}`,
	`{"n":-1.5E+3,"t":true , "f" :false,"z":null,"last":"v","last":[1,{"a":"}"}]}`,
	`[1,2]`, `"s"`, `null`, `{"a":1} x`, `{"a":1}{}`, `{"a":}`, `{`, ``,
}

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, seed := range objectSeeds {
		checkDecodeObject(t, []byte(seed))
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, seed := range objectSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkDecodeObject)
}

// checkDecodeObject: DecodeString accepts exactly the single JSON objects
// encoding/json accepts, and decodes them to the same values.
func checkDecodeObject(t *testing.T, data []byte) {
	got, err := DecodeString(string(data))
	want, ok := referenceDecode(data)
	if ok != (err == nil) {
		t.Fatalf("%q: Decode error %v, encoding/json accepts: %v", data, err, ok)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
	}
	shared, err := DecodeString(string(data))
	if ok != (err == nil) || ok && !reflect.DeepEqual(shared, want) {
		t.Fatalf("%q: DecodeString gives %#v, %v; want %#v", data, shared, err, want)
	}
	for name, v := range want {
		if got, found, err := Member(string(data), name); !found || err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("%q: Member(%q) = %#v, %v, %v; want %#v", data, name, got, found, err, v)
		}
	}
	if ok {
		if _, found, err := Member(string(data), "\x00absent"); found || err != nil {
			t.Fatalf("%q: Member finds an absent name (%v)", data, err)
		}
	}
	checkMembers(t, string(data), want, ok)
	if ok {
		plain := PlainNames(string(data))
		allPlain := namesArePlain(want)
		// PlainNames reads every name written, duplicates that the decoder
		// drops included, so it may say false where the decoded names are
		// plain (the caller then looks closely); never true where they
		// are not.
		if plain && !allPlain {
			t.Fatalf("%q: PlainNames %v, names plain %v", data, plain, allPlain)
		}
	}
}

// namesArePlain is the reference for PlainNames: every name at every
// depth is ASCII without capitals.
func namesArePlain(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			for _, c := range []byte(k) {
				if c >= 0x80 || 'A' <= c && c <= 'Z' {
					return false
				}
			}
			if !namesArePlain(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !namesArePlain(e) {
				return false
			}
		}
	}
	return true
}

// checkMembers: Members accepts what Decode accepts, and the values it
// gives, the last of each name kept, are the decoded map's: by Decode, by
// Text for strings, element by element for arrays, and of the right Kind.
func checkMembers(t *testing.T, data string, want map[string]any, ok bool) {
	got := map[string]any{}
	var values []Value
	err := Members(data, func(name string, v Value) {
		got[name] = v.Decode()
		values = append(values, v)
	})
	if ok != (err == nil) || ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Members gives %#v, %v; want %#v", data, got, err, want)
	}
	for _, v := range values {
		checkValue(t, data, v)
	}
}

func checkValue(t *testing.T, data string, v Value) {
	d := v.Decode()
	text, isText := v.Text()
	if s, isString := d.(string); isString != isText || s != text || isString != (v.Kind() == String) {
		t.Fatalf("%q: value %s: Text %q, %v; decoded %#v", data, v.Raw(), text, isText, d)
	}
	kind := map[Kind]string{Null: "<nil>", Bool: "bool", Number: "json.Number", String: "string", Array: "[]interface {}", Object: "map[string]interface {}"}[v.Kind()]
	if got := fmt.Sprintf("%T", d); got != kind {
		t.Fatalf("%q: value %s of kind %v decodes to a %s", data, v.Raw(), v.Kind(), got)
	}
	var elements []any
	for e := range v.Elements {
		elements = append(elements, e.Decode())
		checkValue(t, data, e)
	}
	if a, isArray := d.([]any); isArray && !reflect.DeepEqual(elements, a) && len(a)+len(elements) > 0 {
		t.Fatalf("%q: elements of %s: %#v, want %#v", data, v.Raw(), elements, a)
	}
}

func TestAbsentValue(t *testing.T) {
	var v Value
	if v.Kind() != Absent || v.Decode() != nil || v.Raw() != "" {
		t.Fatalf("zero Value: kind %v, decoded %#v", v.Kind(), v.Decode())
	}
	if _, ok := v.Text(); ok {
		t.Fatal("zero Value has a Text")
	}
	for range v.Elements {
		t.Fatal("zero Value has elements")
	}
}

// benchClaims is a typical access token's claims set.
const benchClaims = `{"iss":"https://issuer.example.com/","sub":"user-1234567890","aud":["bookings-api","reports"],"exp":1700000600,"nbf":1700000000,"iat":1700000000,"jti":"5f0c2b7e9a8d4c1e","client_id":"web-app","scope":"bookings:read bookings:write profile"}`

func BenchmarkDecodeString(b *testing.B) {
	for b.Loop() {
		if _, err := DecodeString(benchClaims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMembers(b *testing.B) {
	for b.Loop() {
		n := 0
		if err := Members(benchClaims, func(string, Value) { n++ }); err != nil || n != 9 {
			b.Fatal(err, n)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	b.Run("valid", func(b *testing.B) {
		for b.Loop() {
			if !valid([]byte(benchClaims)) {
				b.Fatal("not valid")
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for b.Loop() {
			if !json.Valid([]byte(benchClaims)) {
				b.Fatal("not valid")
			}
		}
	})
}
