package authserver

import (
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/keyward/keyward/clients"
)

// tokenResponse is a successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// attempt is what the log says about a token request.
type attempt struct {
	grant    string
	clientID string // only once known to the registry: a mistyped secret is never logged as an id
	jti, kid string
	format   string // of the access token issued: TokenFormatJWT or TokenFormatOpaque
	binding  string // what the access token is bound to: bindingDPoP, bindingCertificate or ""
	refresh  redeemResult
	// addr is the caller's address, which failed authentications are
	// counted against; forwarded is set when it came from X-Forwarded-For.
	addr      string
	forwarded bool
}

// tokenHandler serves the token endpoint ep.
func (s *Server) tokenHandler(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var at attempt
		at.addr, at.forwarded = clientAddr(s.cfg.proxies, r)
		resp, e := s.token(w, r, ep, &at)
		attrs := callerAttrs([]any{"endpoint", ep.path, "grant_type", at.grant, "client_id", at.clientID}, r, at.addr, at.forwarded)
		if e != nil {
			attrs = e.logAttrs(attrs)
			level := slog.LevelInfo
			if at.refresh == redeemReused {
				level = slog.LevelWarn
			}
			s.log.Log(r.Context(), level, "token request refused", attrs...)
			s.writeError(w, e)
			return
		}
		attrs = append(attrs, "scope", resp.Scope, "expires_in", resp.ExpiresIn,
			"token_format", at.format, "kid", at.kid, "jti", at.jti, "refresh_token", resp.RefreshToken != "")
		if at.binding != "" {
			attrs = append(attrs, "token_type", resp.TokenType, "binding", at.binding)
		}
		s.log.Info("token issued", attrs...)
		writeNoStore(w, http.StatusOK, resp)
	}
}

// token handles one token request at ep.
func (s *Server) token(w http.ResponseWriter, r *http.Request, ep endpoint, at *attempt) (*tokenResponse, *oauthError) {
	req, id, secret, e := readClientRequest(w, r, ep)
	if e != nil {
		return nil, e
	}
	if e := req.checkGrant(ep, at); e != nil {
		return nil, e
	}
	var requested []string
	if param, ok := req.params[paramScope]; ok {
		if requested, e = parseScope(param); e != nil {
			return nil, e
		}
	}

	// A refresh_token grant may come without client authentication (seed
	// 000 sends grant_type and refresh_token only): the refresh token then
	// names its client, and credentials returned no secret.
	var client clients.Client
	if secret == "" && at.grant != grantRefreshToken {
		return nil, errInvalidClient("client authentication is required") // credentials allows no such request
	}
	if secret != "" {
		if client, e = s.clients.authenticate(r.Context(), id, secret, at.addr); e != nil {
			if _, known := s.cfg.Clients.Lookup(id); known {
				at.clientID = id
			}
			return nil, e
		}
		at.clientID = client.ID
	}
	// The proof is checked once the client is known, and before a refresh
	// token is redeemed, so that a bad proof leaves it usable.
	cnf, e := s.binding(r, ep)
	if e != nil {
		return nil, e
	}
	at.binding = cnf.kind()
	now := s.cfg.Now()

	var granted []string
	var refreshToken string
	switch at.grant {
	case grantClientCredentials:
		if granted, e = grantScopes(requested, client.Scopes); e != nil {
			return nil, e
		}
		if ep.refresh {
			refreshToken = s.refresh.issue(client.ID, granted, cnf.JKT, now.Add(s.cfg.refreshTTL), now)
		}
	case grantRefreshToken:
		if client.ID == "" {
			client.ID = id // identified by client_id, not authenticated; or ""
		}
		var g refreshGrant
		g, at.refresh, e = s.refresh.redeem(redemption{
			raw:       req.params[paramRefreshToken],
			clientID:  client.ID,
			requested: requested,
			jkt:       cnf.JKT,
			now:       now,
			expires:   now.Add(s.cfg.refreshTTL),
			allowed:   s.allowedScopes,
		})
		client.ID, granted, refreshToken = g.clientID, g.scopes, g.next
		if client.ID != "" {
			at.clientID = client.ID // the registry's (the token's client), or one that authenticated
		} else if _, known := s.cfg.Clients.Lookup(id); known {
			at.clientID = id
		}
		if e != nil {
			return nil, e
		}
	}

	lifetime := ep.lifetime
	if s.cfg.ttl != 0 {
		lifetime = s.cfg.ttl
	}
	token, err := s.issueAccessToken(client.ID, granted, cnf, lifetime, now, at)
	if err != nil {
		e := errServer()
		e.cause = err
		return nil, e
	}
	return &tokenResponse{
		TokenType:    cnf.tokenType(),
		AccessToken:  token,
		ExpiresIn:    int64(lifetime.Seconds()),
		Scope:        strings.Join(granted, " "),
		RefreshToken: refreshToken,
	}, nil
}

// allowedScopes returns the scopes the registry allows clientID now, or
// false if it has no enabled client of that id.
func (s *Server) allowedScopes(clientID string) ([]string, bool) {
	c, ok := s.cfg.Clients.Lookup(clientID)
	if !ok || c.Disabled {
		return nil, false
	}
	return c.Scopes, true
}

// checkGrant checks grant_type and the parameters it needs, before the
// client is authenticated.
func (req *tokenRequest) checkGrant(ep endpoint, at *attempt) *oauthError {
	grant := req.params[paramGrantType]
	switch {
	case grant == "":
		return errInvalidRequest("the grant_type parameter is missing")
	case !ep.grants(grant):
		if ep.refresh {
			return errUnsupportedGrantType("the grant_type must be client_credentials or refresh_token")
		}
		return errUnsupportedGrantType("the grant_type must be client_credentials")
	}
	at.grant = grant // logged only once known: it comes from the client
	switch {
	case ep.responseType && req.params[paramResponseType] == "":
		return errInvalidRequest("the response_type parameter is missing (use response_type=token)")
	case ep.responseType && req.params[paramResponseType] != "token":
		return errInvalidRequest("the response_type must be token")
	case grant == grantRefreshToken && req.params[paramRefreshToken] == "":
		return errInvalidRequest("the refresh_token parameter is missing")
	}
	return nil
}

// callerAttrs appends to attrs, for a log line, the peer of r and, if
// forwarded, the caller's address addr that it forwarded.
func callerAttrs(attrs []any, r *http.Request, addr string, forwarded bool) []any {
	attrs = append(attrs, "remote_addr", remoteHost(r.RemoteAddr))
	if forwarded {
		attrs = append(attrs, "client_addr", remoteHost(addr))
	}
	return attrs
}

// remoteHost is the IP of a RemoteAddr-style address, for logs.
func remoteHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
