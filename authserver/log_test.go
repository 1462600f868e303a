package authserver_test

import (
	"testing"

	"github.com/keyward/keyward/authserver"
)

// TestLogsHoldNoSecrets runs successes and failures through a debug logger
// and looks for every secret and token in its output.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	ts, logs := startLogged(t)
	secrets := []string{"globex-secret", "not-the-secret", "typo-secret-as-id"}
	first := ts.globexToken(t)
	second := ts.refresh(t, first.str("refresh_token"))
	ts.refresh(t, first.str("refresh_token")) // reuse: the family is revoked
	ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "not-the-secret"}, form: formOf("grant_type", "client_credentials")})
	// A secret typed into the id field is never logged as a client id.
	ts.do(t, request{path: authserver.PathToken, basic: []string{"typo-secret-as-id", "globex"}, form: formOf("grant_type", "client_credentials")})
	ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "typo-secret-as-id", "client_id", "globex", "client_secret", "globex-secret")})
	if _, err := ts.RotateKey(); err != nil {
		t.Fatal(err)
	}

	checkLog(t, logs.String(), append(secrets, first.str("access_token"), first.str("refresh_token"), second.str("access_token"), second.str("refresh_token")), []string{
		`msg="token issued" endpoint=/oauth/token grant_type=client_credentials client_id=globex remote_addr=127.0.0.1 scope="bookings:read bookings:create" expires_in=900`,
		`level=WARN msg="token request refused" endpoint=/oauth/token grant_type=refresh_token client_id=globex remote_addr=127.0.0.1 error=invalid_grant`,
		`msg="token request refused" endpoint=/oauth/token grant_type=client_credentials client_id=globex remote_addr=127.0.0.1 error=invalid_client error_description="client authentication failed" cause=`,
		`msg="token request refused" endpoint=/oauth/token grant_type=client_credentials client_id="" remote_addr=127.0.0.1 error=invalid_client`,
		`msg="signing key rotated" kid=`,
	})
}
