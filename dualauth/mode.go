package dualauth

func (m Mode) allowsJWT() bool         { return m == ModeJWT || m == ModeDual }
func (m Mode) allowsCredentials() bool { return m == ModeCredentials || m == ModeDual }

// Valid reports whether m is one of ModeJWT, ModeCredentials and ModeDual.
func (m Mode) Valid() bool { return m.allowsJWT() || m.allowsCredentials() }

// Allows reports whether a route in mode m accepts a caller who
// authenticated with method.
func (m Mode) Allows(method Method) bool {
	switch method {
	case MethodJWT:
		return m.allowsJWT()
	case MethodCredentials:
		return m.allowsCredentials()
	}
	return false
}

// Serves reports whether routes may use mode: the authenticator must have
// trusted issuers for Bearer tokens and a client verifier for client
// credentials.
func (a *Authenticator) Serves(mode Mode) bool {
	if !mode.Valid() {
		return false
	}
	if mode.allowsJWT() && len(a.issuers) == 0 {
		return false
	}
	return !mode.allowsCredentials() || a.clients != nil
}

// BasicEnabled reports whether client credentials are accepted in HTTP
// Basic, so that challenges can offer it.
func (a *Authenticator) BasicEnabled() bool { return a.clients != nil && a.basic }

// CredentialHeaders returns the names of the client id and secret headers,
// and false if client credentials are not configured.
func (a *Authenticator) CredentialHeaders() (id, secret string, ok bool) {
	return a.idHeader, a.secretHeader, a.clients != nil
}
