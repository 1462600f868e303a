package authserver

// RefreshFamiliesStored returns how many refresh-token families s holds
// (one live token each), for tests of the store's bounds and sweeping.
func RefreshFamiliesStored(s *Server) int { return s.refresh.len() }

// NewWithVerifyHook is New with after run after every successful check of
// a client secret against the registry, before the server uses the
// outcome: for tests of a reload in the middle of a verification.
func NewWithVerifyHook(cfg Config, after func(id string)) (*Server, error) {
	return newServer(cfg, after)
}

// OpaqueTokensStored returns how many opaque access tokens s holds, for
// tests of the store's bound.
func OpaqueTokensStored(s *Server) int { return s.opaque.len() }
