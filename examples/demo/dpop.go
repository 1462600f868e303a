package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/keywardtest"
)

// walkDPoP takes a DPoP-bound token (RFC 9449) through the API: the client
// makes a key, gets a token bound to it by sending a proof to the token
// endpoint, and calls the API with the token and a new proof each time; a
// proof sent twice and the token sent as Bearer are refused.
//
// The demo is the client here, so it signs its proofs with keywardtest's
// DPoP key, as Keyward's own tests do: a real client would use its OAuth
// library's DPoP support, or keywardtest.DPoPTransport's way of adding a
// proof to each request.
func (w *walker) walkDPoP() {
	w.section("DPoP: a token bound to the client's key (RFC 9449)")
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		w.steps++
		w.fail(err)
		return
	}
	fmt.Fprintf(w.out, "\n  the client's DPoP key: ES256, thumbprint (RFC 7638) %s\n", key.Thumbprint())
	proof := func(method, target, token string) string {
		p, err := key.Proof(method, target, token, nil)
		if err != nil {
			w.fail(err)
		}
		return p
	}

	tokenURL := w.auth + "/oauth/v2/token"
	bound := w.do("token with a DPoP proof (htm POST, htu the token endpoint): token_type DPoP, cnf.jkt the key's thumbprint",
		http.MethodPost, tokenURL,
		header{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(globexID, globexSecret), "DPoP": proof(http.MethodPost, tokenURL, "")},
		"grant_type=client_credentials", 200, boundTo(key.Thumbprint()))
	token := str(bound, "access_token")

	whoami := w.api + "/v1/whoami"
	first := dpop(token, proof(http.MethodGet, whoami, token))
	w.do("whoami with Authorization: DPoP and a proof of this request (htm, htu, ath: the token's hash); the claims show the binding", http.MethodGet, whoami, first, "", 200,
		allOf(field("method", "jwt"), field("client_id", globexID), claimsBoundTo(key.Thumbprint())))
	bookingsURL := w.api + "/v1/bookings"
	w.do("list bookings: every request has a proof of its own", http.MethodGet, bookingsURL,
		dpop(token, proof(http.MethodGet, bookingsURL, token)), "", 200, nil)
	w.do("whoami again with the first proof: a replay (its jti was seen)", http.MethodGet, whoami, first, "", 401,
		allOf(errorCode("invalid_dpop_proof"), dpopChallenge("invalid_dpop_proof")))
	w.do("the bound token as Bearer: a stolen token is of no use without the key", http.MethodGet, bookingsURL, bearer(token), "", 401,
		errorCode("invalid_token"))
}

// dpop is the headers of a request with a DPoP-bound token and its proof.
func dpop(token, proof string) header {
	return header{"Authorization": "DPoP " + token, "DPoP": proof}
}

// boundTo checks a token response: a DPoP token for an hour whose cnf.jkt
// (RFC 9449 §6.1) is jkt.
func boundTo(jkt string) func(*http.Response, map[string]any) error {
	return func(_ *http.Response, body map[string]any) error {
		if body["token_type"] != "DPoP" || body["expires_in"] != float64(3600) {
			return fmt.Errorf("token_type %v for %vs, want a DPoP token for 3600s", body["token_type"], body["expires_in"])
		}
		claims := jwt.MapClaims{} // what the token says; the API verifies it
		if _, _, err := jwt.NewParser().ParseUnverified(str(body, "access_token"), claims); err != nil {
			return fmt.Errorf("the access token: %w", err)
		}
		return confirms(claims, jkt)
	}
}

// claimsBoundTo checks that whoami's claims are bound to jkt.
func claimsBoundTo(jkt string) func(*http.Response, map[string]any) error {
	return func(_ *http.Response, body map[string]any) error {
		claims, _ := body["claims"].(map[string]any)
		return confirms(claims, jkt)
	}
}

// confirms checks that claims' cnf is exactly {"jkt": jkt}.
func confirms(claims map[string]any, jkt string) error {
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["jkt"] != jkt || len(cnf) != 1 {
		return fmt.Errorf("cnf is %v, want {jkt: %s}", claims["cnf"], jkt)
	}
	return nil
}

// dpopChallenge checks that the refusal's challenge is DPoP's (RFC 9449
// §7.1), naming the algorithms a proof may use and the error.
func dpopChallenge(code string) func(*http.Response, map[string]any) error {
	return func(resp *http.Response, _ map[string]any) error {
		for _, c := range resp.Header.Values("WWW-Authenticate") {
			if strings.HasPrefix(c, `DPoP realm="bookings-api", algs="`) && strings.Contains(c, `error="`+code+`"`) {
				return nil
			}
		}
		return fmt.Errorf("WWW-Authenticate %q, want a DPoP challenge with error=%q", resp.Header.Values("WWW-Authenticate"), code)
	}
}
