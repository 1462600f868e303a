package authheader

import (
	"net/http"
	"testing"
)

func TestClientHeaders(t *testing.T) {
	tests := []struct {
		name               string
		header             http.Header
		wantID, wantSecret string
		wantPresent        bool
		wantProblem        string
	}{
		{"neither", http.Header{}, "", "", false, ""},
		{"both", http.Header{"Cid": {"app"}, "Csecret": {"s3cret"}}, "app", "s3cret", true, ""},
		{"id repeated", http.Header{"Cid": {"a", "b"}, "Csecret": {"s"}}, "", "", false,
			"the request repeats a client credential header"},
		{"secret repeated", http.Header{"Csecret": {"a", "b"}}, "", "", false,
			"the request repeats a client credential header"},
		{"id missing", http.Header{"Csecret": {"s"}}, "", "", true, "the Cid header is missing or empty"},
		{"id empty", http.Header{"Cid": {""}, "Csecret": {"s"}}, "", "", true, "the Cid header is missing or empty"},
		{"secret missing", http.Header{"Cid": {"app"}}, "", "", true, "the Csecret header is missing or empty"},
		{"secret empty", http.Header{"Cid": {"app"}, "Csecret": {""}}, "", "", true,
			"the Csecret header is missing or empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, present, problem := ClientHeaders(tt.header, "Cid", "Csecret")
			if id != tt.wantID || secret != tt.wantSecret || present != tt.wantPresent || problem != tt.wantProblem {
				t.Errorf("ClientHeaders = %q, %q, %v, %q; want %q, %q, %v, %q", id, secret, present, problem,
					tt.wantID, tt.wantSecret, tt.wantPresent, tt.wantProblem)
			}
		})
	}
}
