package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/urlrule"
	"github.com/keyward/keyward/jwtauth"
)

// Introspection is the introspection section of a jwt.issuers entry: the
// issuer's token introspection endpoint (RFC 7662, jwtauth.Introspection),
// which checks its opaque access tokens.
type Introspection struct {
	// Endpoint is the URL tokens are posted to: https://, or http:// for
	// loopback hosts (127.0.0.0/8, ::1, localhost) only, whatever the
	// issuer's allow_insecure_http. It may be omitted when the issuer has
	// discovery: true: the "introspection_endpoint" of its metadata is then
	// used.
	Endpoint string `yaml:"endpoint,omitempty"`
	// ClientID is this API's client id at the endpoint; required.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile is a file whose first line is this API's client
	// secret at the endpoint; required. A relative path is relative to the
	// configuration file's directory (to the working directory for a File
	// not read by Read). It is read by File.Config; the secret is never
	// shown in errors or logs.
	ClientSecretFile string `yaml:"client_secret_file"`
	// AuthMethod is how the client authenticates: client_secret_basic (the
	// default) or client_secret_post.
	AuthMethod string `yaml:"auth_method,omitempty"`
	// TokenPrefix, if set, sends only the opaque tokens starting with it to
	// this endpoint. Required when several issuers introspect, none the
	// start of another's.
	TokenPrefix string `yaml:"token_prefix,omitempty"`
	// Timeout bounds one call to the endpoint; positive. 0 means jwtauth's
	// default (2s).
	Timeout Duration `yaml:"timeout,omitempty"`
	// IntrospectJWTs sends the issuer's JWTs to the endpoint too, after
	// they verified here, so that a revoked one is refused.
	IntrospectJWTs bool `yaml:"introspect_jwts,omitempty"`
	// Cache tunes the cache of the endpoint's answers.
	Cache IntrospectionCache `yaml:"cache,omitempty"`
}

// IntrospectionCache is the cache section of an introspection section
// (jwtauth.IntrospectionCache). Omitted keys mean jwtauth's defaults (on,
// 5m, 10s, 100,000 entries).
type IntrospectionCache struct {
	// Enabled turns the cache on or off; nil means on.
	Enabled *bool `yaml:"enabled,omitempty"`
	// MaxTTL bounds how long an active answer is reused (never past the
	// token's exp); at least 1s.
	MaxTTL Duration `yaml:"max_ttl,omitempty"`
	// NegativeTTL is how long an inactive answer is reused; at least 1s.
	NegativeTTL Duration `yaml:"negative_ttl,omitempty"`
	// MaxEntries bounds the answers held, from 1 to MaxCachedTokens.
	MaxEntries int `yaml:"max_entries,omitempty"`
}

// maxSecretFileBytes caps what is read of a client_secret_file.
const maxSecretFileBytes = 64 << 10

// unreadSecret stands for a client secret until its file is read (see
// File.checked): the Configs are validated before any file is.
const unreadSecret = "(client_secret_file, not read yet)"

// introspecting reports whether any issuer of f has introspection.
func (f *File) introspecting() bool {
	for _, iss := range f.JWT.Issuers {
		if iss.Introspection != nil {
			return true
		}
	}
	return false
}

// checkIntrospection checks the introspection section of the i-th issuer,
// which has one.
func (f *File) checkIntrospection(i int) error {
	iss := f.JWT.Issuers[i]
	in := iss.Introspection
	at := fmt.Sprintf("jwt.issuers[%d].introspection", i)
	switch {
	case in.Endpoint == "" && f.has(at+".endpoint"):
		return f.errorf(at+".endpoint", "may not be empty; omit it with discovery: true to use the issuer's introspection_endpoint")
	case in.Endpoint == "" && !iss.Discovery:
		return f.errorf(at, "needs an endpoint: set endpoint, or discovery: true on the issuer to use its introspection_endpoint")
	case in.Endpoint == "":
		// Discovered: the metadata is read by the rule of the endpoint,
		// without allow_insecure_http.
		if _, err := (urlrule.Rule{}).Check(iss.Issuer); errors.Is(err, urlrule.ErrInsecureHTTP) {
			return f.errorf(at, "needs an endpoint: the issuer's metadata is on http:// at a host that is not loopback, which allow_insecure_http opens to key sets only; set endpoint to an https:// URL")
		}
	case in.Endpoint != "":
		// The endpoint receives this API's client secret and callers'
		// tokens: like the exchange's token endpoint, http:// only to
		// loopback, and no credentials of its own in the URL.
		rule := urlrule.Rule{NoUserinfo: true}
		if msg := urlProblem(in.Endpoint, rule, "use https:// (allow_insecure_http does not apply: the endpoint receives this API's credentials and callers' tokens)"); msg != "" {
			return f.errorf(at+".endpoint", "%s", msg)
		}
	}
	if in.ClientID == "" {
		return f.errorf(at+".client_id", "is required: this API's client id at the introspection endpoint")
	}
	if in.ClientSecretFile == "" {
		if f.has(at + ".client_secret_file") {
			return f.errorf(at+".client_secret_file", "may not be empty")
		}
		return f.errorf(at+".client_secret_file", "is required: a file whose first line is this API's client secret at the introspection endpoint")
	}
	switch in.AuthMethod {
	case jwtauth.ClientSecretBasic, jwtauth.ClientSecretPost:
	case "":
		if f.has(at + ".auth_method") {
			return f.errorf(at+".auth_method", "may not be empty; omit it for the default, %s", jwtauth.ClientSecretBasic)
		}
	default:
		return f.errorf(at+".auth_method", "unknown method %s; use %s (the default) or %s", excerpt.Quote(in.AuthMethod), jwtauth.ClientSecretBasic, jwtauth.ClientSecretPost)
	}
	if in.Timeout != 0 || f.has(at+".timeout") {
		if in.Timeout <= 0 {
			return f.errorf(at+".timeout", "must be positive; omit it for the default, 2s")
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{at + ".cache.max_ttl", in.Cache.MaxTTL},
		{at + ".cache.negative_ttl", in.Cache.NegativeTTL},
	} {
		if err := f.checkDuration(d.key, d.v); err != nil {
			return err
		}
	}
	return f.checkEntries(at+".cache.max_entries", in.Cache.MaxEntries)
}

// introspectors counts the issuers of f with introspection.
func (f *File) introspectors() int {
	n := 0
	for _, iss := range f.JWT.Issuers {
		if iss.Introspection != nil {
			n++
		}
	}
	return n
}

// checkTokenPrefixes checks that, when several issuers introspect, each
// has a token prefix and none starts another's, so that an opaque token
// goes to one endpoint only (jwtauth.Introspection.TokenPrefix).
func (f *File) checkTokenPrefixes() error {
	if f.introspectors() < 2 {
		return nil
	}
	type prefix struct {
		i     int
		value string
	}
	var seen []prefix
	for i, iss := range f.JWT.Issuers {
		in := iss.Introspection
		if in == nil {
			continue
		}
		key := fmt.Sprintf("jwt.issuers[%d].introspection", i)
		if in.TokenPrefix == "" {
			return f.errorf(key+".token_prefix", "is required: several issuers introspect, and an opaque token goes only to the endpoint whose prefix it starts with")
		}
		for _, s := range seen {
			other := fmt.Sprintf("jwt.issuers[%d].introspection.token_prefix", s.i)
			switch {
			case in.TokenPrefix == s.value:
				return f.errorf(key+".token_prefix", "%s is also %s; each introspecting issuer needs a prefix of its own", excerpt.Quote(in.TokenPrefix), other)
			case strings.HasPrefix(in.TokenPrefix, s.value), strings.HasPrefix(s.value, in.TokenPrefix):
				return f.errorf(key+".token_prefix", "%s and %s (%s) start alike, so a token could belong to both; neither may start the other", excerpt.Quote(in.TokenPrefix), other, excerpt.Quote(s.value))
			}
		}
		seen = append(seen, prefix{i, in.TokenPrefix})
	}
	return nil
}

// introspection returns the jwtauth.Introspection of a checked section,
// with a stand-in for the client secret, which secretFiles reads.
func introspection(in *Introspection) *jwtauth.Introspection {
	if in == nil {
		return nil
	}
	return &jwtauth.Introspection{
		Endpoint:       in.Endpoint,
		ClientID:       in.ClientID,
		ClientSecret:   unreadSecret,
		AuthMethod:     in.AuthMethod,
		TokenPrefix:    in.TokenPrefix,
		Timeout:        time.Duration(in.Timeout),
		IntrospectJWTs: in.IntrospectJWTs,
		Cache: jwtauth.IntrospectionCache{
			Disabled:    in.Cache.Enabled != nil && !*in.Cache.Enabled,
			MaxTTL:      time.Duration(in.Cache.MaxTTL),
			NegativeTTL: time.Duration(in.Cache.NegativeTTL),
			MaxEntries:  in.Cache.MaxEntries,
		},
	}
}

// secretFiles reads the client_secret_file of every introspecting issuer
// into issuers, the jwtauth.Issuers of f's issuers.
func (f *File) secretFiles(issuers []jwtauth.Issuer) error {
	for i, iss := range f.JWT.Issuers {
		if iss.Introspection == nil {
			continue
		}
		key := fmt.Sprintf("jwt.issuers[%d].introspection.client_secret_file", i)
		secret, err := readSecretFile(f.resolve(iss.Introspection.ClientSecretFile))
		if err != nil {
			return f.wrap(key, err)
		}
		in := *issuers[i].Introspection
		in.ClientSecret = secret
		issuers[i].Introspection = &in
	}
	return nil
}

// readSecretFile returns the first line of the file at path, without its
// "\n" or "\r\n". Its errors name the path, never what the file holds.
func readSecretFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxSecretFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	line, _, complete := bytes.Cut(data, []byte("\n"))
	if !complete && len(data) > maxSecretFileBytes {
		return "", fmt.Errorf("%s: the first line is longer than %d bytes; it must hold the client secret alone", path, maxSecretFileBytes)
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", fmt.Errorf("%s: the first line is empty; it must hold the client secret", path)
	}
	return string(line), nil
}
