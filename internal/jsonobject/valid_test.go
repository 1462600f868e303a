package jsonobject

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`, `-1.5e+300`, `1e400`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nullx`, `"\u00e9\ud83d"`, `"\u00g0"`, `"\u00e"`, `"\x"`, `"\/\b\f\n\r\t\"\\"`,
	"\"\x1f\"", "\"\x7f\xff\xfe\"", `"abc`, `"\`, `{"a":1,}`, `{"a":1,"b"}`, `{"a" 1}`, `{1:1}`, `{"a":1}}`, `[1,]`, `[,1]`,
	`[1 2]`, `[[[]]]`, `[{"a":[{"b":{}}]}]`, ` {"a" : [ 1 , { } , "x" ] } `, `{"a":1} {}`, `{"a":1}x`, "\t\n\r{}\r\n",
	`[1]]`, `[}`, `{]`, `{"a":{"b":[1,2,{"c":"]}"}]}}`, "\ufeff{}", `{"a":-}`, `{"a":--1}`, `{"a":+1}`, `[1e5,0.0,-0.0e-0]`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 9999) + "[]" + strings.Repeat("}", 9999),
	strings.Repeat(`{"a":`, 10000) + "[]" + strings.Repeat("}", 10000),
	strings.Repeat("[", 200) + strings.Repeat("]", 199),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, seed := range validSeeds {
		checkValid(t, []byte(seed))
	}
}

func FuzzValid(f *testing.F) {
	for _, seed := range validSeeds {
		f.Add([]byte(seed))
	}
	for _, seed := range objectSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkValid)
}

func checkValid(t *testing.T, data []byte) {
	if got, want := valid(data), json.Valid(data); got != want {
		t.Fatalf("%.200q: valid %v, json.Valid %v", data, got, want)
	}
}
