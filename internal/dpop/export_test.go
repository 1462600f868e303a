package dpop

// The causes of the checks, for the tests of package dpop_test.
var (
	ErrHeaderCount  = errHeaderCount
	ErrForm         = errForm
	ErrTyp          = errTyp
	ErrCrit         = errCrit
	ErrAlg          = errAlg
	ErrNoJWK        = errNoJWK
	ErrPrivateJWK   = errPrivateJWK
	ErrJWK          = errJWK
	ErrKeyAlg       = errKeyAlg
	ErrSignature    = errSignature
	ErrClaims       = errClaims
	ErrJTI          = errJTI
	ErrHTM          = errHTM
	ErrHTU          = errHTU
	ErrRequestURI   = errRequestURI
	ErrIATMissing   = errIATMissing
	ErrIATOld       = errIATOld
	ErrIATFuture    = errIATFuture
	ErrATHMissing   = errATHMissing
	ErrATH          = errATH
	ErrNonce        = errNonce
	ErrBoundKey     = errBoundKey
	ErrReplayed     = errReplayed
	ErrKeyShareFull = errKeyShareFull
	ErrCacheFull    = errCacheFull
)

// NormalURI is normalURI.
var NormalURI = normalURI

// ReplayLen is the number of proofs c's memory replay cache holds.
func ReplayLen(c *Checker) int { return c.replay.(*memoryReplay).len() }
