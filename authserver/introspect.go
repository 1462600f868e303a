package authserver

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// introspection is an introspection response (RFC 7662 §2.2). An inactive
// token's is {"active":false} and nothing else: the zero value.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  string `json:"aud,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	JWTID     string `json:"jti,omitempty"`
	// Confirmation is the key a sender-constrained token is bound to
	// (RFC 9449 §6.2, RFC 8705 §3.2); nil for a Bearer token.
	Confirmation *confirmation `json:"cnf,omitempty"`
}

// introspectionAttempt is what the log says about an introspection request:
// never the token, only what kind of token it was and whose.
type introspectionAttempt struct {
	clientID  string // the caller, once known to the registry
	addr      string // the caller's address (see clientAddr)
	forwarded bool
	format    string // TokenFormatOpaque or TokenFormatJWT when the token was recognised as one
	tokenOf   string // the token's client, when active
}

// serveIntrospection serves PathIntrospect.
func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	var at introspectionAttempt
	at.addr, at.forwarded = clientAddr(s.cfg.proxies, r)
	resp, e := s.introspect(w, r, &at)
	attrs := callerAttrs([]any{"endpoint", PathIntrospect, "client_id", at.clientID}, r, at.addr, at.forwarded)
	if e != nil {
		s.log.Info("introspection request refused", e.logAttrs(attrs)...)
		s.writeError(w, e)
		return
	}
	s.log.Info("token introspected", append(attrs, "active", resp.Active, "token_format", at.format, "token_client_id", at.tokenOf)...)
	writeNoStore(w, http.StatusOK, resp)
}

// introspect handles one introspection request.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, at *introspectionAttempt) (*introspection, *oauthError) {
	req, id, secret, e := readClientRequest(w, r, introspectionEndpoint)
	if e != nil {
		return nil, e
	}
	raw := req.params[paramToken]
	if raw == "" {
		return nil, errInvalidRequest("the token parameter is missing")
	}
	// token_type_hint is not read: every kind of token the server knows is
	// looked for whatever it says, as RFC 7662 §2.1 allows, and a value it
	// does not know is ignored, as it requires.

	client, e := s.clients.authenticate(r.Context(), id, secret, at.addr)
	if e != nil {
		if _, known := s.cfg.Clients.Lookup(id); known {
			at.clientID = id
		}
		return nil, e
	}
	at.clientID = client.ID
	if !s.cfg.ClientOptions[client.ID].Introspect {
		return nil, errNotAllowedToIntrospect()
	}

	now := s.cfg.Now()
	var resp introspection
	var ok bool
	switch {
	case strings.HasPrefix(raw, OpaqueTokenPrefix):
		at.format = TokenFormatOpaque
		resp, ok = s.introspectOpaque(raw, now)
	case strings.Count(raw, ".") == 2:
		at.format = TokenFormatJWT
		resp, ok = s.introspectJWT(raw, now)
	}
	// A token of a client the registry has since disabled or removed is
	// inactive, as its refresh tokens are revoked.
	if ok {
		if _, enabled := s.allowedScopes(resp.ClientID); !enabled {
			ok = false
		}
	}
	if !ok {
		return &introspection{}, nil
	}
	at.tokenOf = resp.ClientID
	return &resp, nil
}

// introspectOpaque describes the opaque token raw if it is live at now.
func (s *Server) introspectOpaque(raw string, now time.Time) (introspection, bool) {
	g, ok := s.opaque.lookup(raw, now)
	if !ok {
		return introspection{}, false
	}
	return s.activeResponse(g.clientID, g.scope, g.iat, g.exp, g.cnf), true
}

// accessTokenClaims are the claims of the server's JWT access tokens that
// introspection reads.
type accessTokenClaims struct {
	jwt.RegisteredClaims
	ClientID     string       `json:"client_id"`
	Scope        string       `json:"scope"`
	Confirmation confirmation `json:"cnf"`
}

// introspectJWT describes raw if it is a JWT access token this server
// signed, with a key it still publishes, that is valid at now.
func (s *Server) introspectJWT(raw string, now time.Time) (introspection, bool) {
	var claims accessTokenClaims
	tok, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if typ, _ := t.Header["typ"].(string); typ != accessTokenType {
			return nil, errors.New("not an access token")
		}
		if key, ok := s.keys.publicKey(kid, now); ok {
			return key, nil
		}
		return nil, errors.New("unknown key")
	},
		jwt.WithValidMethods([]string{s.cfg.Algorithm}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || !tok.Valid || claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ClientID == "" {
		return introspection{}, false
	}
	resp := s.activeResponse(claims.ClientID, claims.Scope, claims.IssuedAt.Unix(), claims.ExpiresAt.Unix(), claims.Confirmation)
	resp.Subject = claims.Subject
	resp.JWTID = claims.ID
	return resp, true
}

// activeResponse is the introspection response of a live token of the
// server's issued to clientID, bound to cnf's key if any.
func (s *Server) activeResponse(clientID, scope string, iat, exp int64, cnf confirmation) introspection {
	return introspection{
		Active:       true,
		Scope:        scope,
		ClientID:     clientID,
		Subject:      clientID,
		ExpiresAt:    exp,
		IssuedAt:     iat,
		NotBefore:    iat,
		Issuer:       s.cfg.Issuer,
		Audience:     s.cfg.Audience,
		TokenType:    cnf.tokenType(),
		Confirmation: cnf.pointer(),
	}
}
