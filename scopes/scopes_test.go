package scopes_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/keyward/keyward/scopes"
)

func claims(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		names  []string
		want   []string
	}{
		{"scope string", `{"scope":"bookings:read reports:read"}`, nil, []string{"bookings:read", "reports:read"}},
		{"extra spaces", `{"scope":" bookings:read  reports:read "}`, nil, []string{"bookings:read", "reports:read"}},
		{"scp string", `{"scp":"a b"}`, nil, []string{"a", "b"}},
		{"scp array", `{"scp":["b","a"]}`, nil, []string{"a", "b"}},
		{"scopes array (seed 002)", `{"scopes":["bookings:create","bookings:delete"]}`, nil, []string{"bookings:create", "bookings:delete"}},
		{"merged and deduplicated", `{"scope":"a b","scp":["b","c"],"scopes":["c"]}`, nil, []string{"a", "b", "c"}},
		{"none", `{"sub":"x"}`, nil, nil},
		{"null claim", `{"scope":null}`, nil, nil},
		{"empty string", `{"scope":""}`, nil, nil},
		{"custom claim name", `{"permissions":["x"],"scope":"y"}`, []string{"permissions"}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scopes.Parse(claims(t, tt.claims), tt.names)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal([]string(got), tt.want) {
				t.Fatalf("Parse = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, js := range []string{
		`{"scope":42}`,
		`{"scope":{"a":true}}`,
		`{"scp":["a",1]}`,
		`{"scope":"a \"b"}`,
		`{"scope":"a\\b"}`,
		`{"scopes":["caf\u00e9"]}`,
		`{"scope":"files:read:x\u00a0admin"}`,
		`{"scope":"a\tb"}`,
		`{"scope":"a\nadmin"}`,
		`{"scope":"a\u2028admin"}`,
		`{"scp":["files:read:x admin"]}`,
		`{"scopes":[""]}`,
	} {
		if got, err := scopes.Parse(claims(t, js), nil); err == nil {
			t.Errorf("Parse(%s) = %q, want an error", js, got)
		}
	}
}

func TestRequirement(t *testing.T) {
	granted := scopes.NewSet("bookings:read", "reports:read")
	tests := []struct {
		name string
		req  scopes.Requirement
		want bool
	}{
		{"zero", scopes.Requirement{}, true},
		{"all met", scopes.All("bookings:read", "reports:read"), true},
		{"all one missing", scopes.All("bookings:read", "bookings:create"), false},
		{"any one met", scopes.Any("bookings:create", "reports:read"), true},
		{"any none met", scopes.Any("bookings:create", "bookings:delete"), false},
		{"exact match only", scopes.All("bookings:reader"), false},
		{"prefix is not a match", scopes.All("bookings"), false},
		{"any empty", scopes.Any(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.SatisfiedBy(granted); got != tt.want {
				t.Fatalf("SatisfiedBy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequirementString(t *testing.T) {
	if got := scopes.All("b", "a", "b").String(); got != "a b" {
		t.Fatalf("String = %q, want %q", got, "a b")
	}
}

func TestRequirementPanicsOnInvalidScope(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("All with a space in a scope did not panic")
		}
	}()
	scopes.All("a b")
}

func ExampleParse() {
	claims := map[string]any{"scope": "bookings:read reports:read"}
	granted, err := scopes.Parse(claims, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(granted.Has("bookings:read"), scopes.All("bookings:read", "bookings:create").SatisfiedBy(granted))
	// Output: true false
}

func TestSetMarshalJSON(t *testing.T) {
	for want, set := range map[string]scopes.Set{`[]`: nil, `["a","b"]`: scopes.NewSet("b", "a")} {
		got, err := json.Marshal(set)
		if err != nil || string(got) != want {
			t.Errorf("Marshal(%q) = %s, %v; want %s", []string(set), got, err, want)
		}
	}
}
