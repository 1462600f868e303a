package authserver

// RefreshTokensStored returns how many refresh tokens s holds, used ones
// included, for tests of the store's sweeping.
func RefreshTokensStored(s *Server) int { return s.refresh.len() }
