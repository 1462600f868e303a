package authserver

// RefreshTokensStored returns how many refresh tokens s holds, used ones
// included, for tests of the store's sweeping.
func RefreshTokensStored(s *Server) int { return s.refresh.len() }

// NewWithVerifyHook is New with after run after every successful check of
// a client secret against the registry, before the server uses the
// outcome: for tests of a reload in the middle of a verification.
func NewWithVerifyHook(cfg Config, after func(id string)) (*Server, error) {
	return newServer(cfg, after)
}
