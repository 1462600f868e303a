package authserver

import (
	"encoding/json"
	"net/http"
)

// writeNoStore writes v as a JSON response that no cache may store, as RFC
// 6749 §5.1 requires of token responses and §5.2 errors.
func writeNoStore(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, v)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only plain maps and structs are written
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	writeRawJSON(w, status, body)
}

// writeRawJSON writes body, a JSON document, as the response.
func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
