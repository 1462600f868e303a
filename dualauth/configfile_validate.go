package dualauth

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/urlrule"
	"github.com/keyward/keyward/jwks"
)

// parseConfigFile decodes data; file, if not empty, is named in errors.
func parseConfigFile(data []byte, file string) (*ConfigFile, error) {
	f := &ConfigFile{file: file, lines: map[string]int{}}
	if len(data) > MaxConfigFileBytes {
		return nil, f.errorf("", "the file is larger than %d bytes", MaxConfigFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, f.errorf("", "the file is empty; it needs at least a jwt section with issuers, or mode: credentials with a credentials section")
		}
		return nil, f.yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, f.yamlError(err)
		}
		return nil, f.errorAt(next.Line, "", "the file holds more than one YAML document (remove the second \"---\")")
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil, f.errorf("", "the file is empty; it needs at least a jwt section with issuers, or mode: credentials with a credentials section")
	}
	if top.Kind != yaml.MappingNode {
		return nil, f.errorAt(top.Line, "", "the top level must be a mapping of keys such as mode, realm and jwt, not a %s", kindName(top))
	}
	w := walker{f: f}
	if err := w.walk(top, reflect.TypeFor[ConfigFile](), ""); err != nil {
		return nil, err
	}
	// The walk has checked keys and types with better messages; KnownFields
	// stays on as a second guard.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(f); err != nil {
		return nil, f.yamlError(err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// validate checks the rules that span keys or bound values.
func (f *ConfigFile) validate() error {
	switch f.Mode {
	case "", ModeJWT, ModeCredentials, ModeDual:
	default:
		return f.errorf("mode", "unknown mode %s (use jwt, credentials or dual)", quoteValue(string(f.Mode)))
	}
	if strings.ContainsAny(f.Realm, "\"\\\r\n") {
		return f.errorf("realm", "may not contain quotes, backslashes or line breaks")
	}
	if err := f.validateCredentials(); err != nil {
		return err
	}
	j := &f.JWT
	if len(j.Issuers) == 0 && f.needsIssuers() {
		switch {
		case f.Credentials != nil && f.Credentials.Exchange != nil:
			return f.errorAt(cmp.Or(f.lineOf("jwt.issuers"), f.lineOf("credentials.exchange")), "jwt.issuers",
				"at least one issuer is required: the token credentials.exchange obtains is verified through them")
		case f.effectiveMode() == ModeDual:
			return f.errorAt(cmp.Or(f.lineOf("jwt.issuers"), f.lineOf("mode")), "jwt.issuers", "at least one issuer is required: mode dual accepts Bearer tokens too")
		}
		return f.errorf("jwt.issuers", "at least one issuer is required")
	}
	first := map[string]int{}
	for i := range j.Issuers {
		if err := f.validateIssuer(i, first); err != nil {
			return err
		}
	}
	for i, alg := range j.Algorithms {
		key := fmt.Sprintf("jwt.algorithms[%d]", i)
		switch {
		case slices.Contains(DefaultAlgorithms, alg):
		case strings.EqualFold(alg, "none"):
			return f.errorf(key, "%q is never accepted: an unsigned token can be forged by anyone", alg)
		case slices.ContainsFunc([]string{"HS256", "HS384", "HS512"}, func(hs string) bool { return strings.EqualFold(alg, hs) }):
			return f.errorf(key, "%s is not accepted: HMAC needs the issuer's shared secret on every API, and whoever holds it can mint tokens; use an asymmetric algorithm such as RS256 or ES256", quoteValue(alg))
		default:
			return f.errorf(key, "unknown algorithm %s (allowed, case-sensitive: %s)", quoteValue(alg), strings.Join(DefaultAlgorithms, ", "))
		}
	}
	if j.Leeway != nil && (*j.Leeway < 0 || time.Duration(*j.Leeway) > maxLeeway) {
		return f.errorf("jwt.leeway", "%s is outside 0s to %s", j.Leeway, maxLeeway)
	}
	for i, c := range j.ScopeClaims {
		if c == "" {
			return f.errorf(fmt.Sprintf("jwt.scope_claims[%d]", i), "a claim name may not be empty")
		}
	}
	if err := f.checkSize("jwt.max_token_bytes", int64(j.MaxTokenBytes), MaxConfigTokenBytes, "64 KiB"); err != nil {
		return err
	}
	k := j.JWKS
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"jwt.jwks.refresh_interval", k.RefreshInterval},
		{"jwt.jwks.unknown_kid_interval", k.UnknownKIDInterval},
		{"jwt.jwks.timeout", k.Timeout},
	} {
		if (d.v != 0 || f.has(d.key)) && d.v < Duration(time.Second) {
			return f.errorf(d.key, "%s is too short; the least is 1s", d.v)
		}
	}
	refresh, unknown := effective(k.RefreshInterval, jwks.DefaultRefreshInterval), effective(k.UnknownKIDInterval, jwks.DefaultUnknownKIDInterval)
	if unknown > refresh {
		if k.UnknownKIDInterval == 0 {
			return f.errorf("jwt.jwks.refresh_interval", "%s is shorter than unknown_kid_interval (%s by default); set unknown_kid_interval to at most %s", refresh, unknown, refresh)
		}
		refreshText := refresh.String()
		if k.RefreshInterval == 0 {
			refreshText += " by default"
		}
		return f.errorf("jwt.jwks.unknown_kid_interval", "%s is longer than refresh_interval (%s); it may be at most that", unknown, refreshText)
	}
	return f.checkSize("jwt.jwks.max_bytes", k.MaxBytes, MaxConfigJWKSBytes, "64 MiB")
}

func (f *ConfigFile) validateIssuer(i int, first map[string]int) error {
	iss := f.JWT.Issuers[i]
	at := issuerPath(i)
	if iss.Issuer == "" {
		return f.errorf(at+".issuer", "is required: the exact \"iss\" value of the issuer's tokens")
	}
	if j, dup := first[iss.Issuer]; dup {
		return f.errorf(at+".issuer", "%s is already configured in %s", quoteValue(iss.Issuer), issuerPath(j))
	}
	first[iss.Issuer] = i
	var sources []string
	if iss.JWKSURL != "" {
		sources = append(sources, "jwks_url")
	}
	if iss.Discovery {
		sources = append(sources, "discovery")
	}
	if iss.PublicKeyFile != "" {
		sources = append(sources, "public_key_file")
	}
	switch len(sources) {
	case 0:
		return f.errorf(at, "needs a key source: exactly one of jwks_url, discovery: true or public_key_file")
	case 1:
	default:
		return f.errorf(at, "sets %s; use exactly one of jwks_url, discovery: true or public_key_file", strings.Join(sources, " and "))
	}
	if iss.JWKSURL != "" {
		if msg := checkKeyURL(iss.JWKSURL, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".jwks_url", "%s", msg)
		}
	}
	if iss.Discovery {
		if msg := checkKeyURL(iss.Issuer, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".issuer", "with discovery: true, the issuer %s", msg)
		}
		if u, _ := url.Parse(iss.Issuer); u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return f.errorf(at+".issuer", "with discovery: true, the issuer may not have a query or fragment (RFC 8414 §2)")
		}
	}
	if len(iss.Audiences) == 0 {
		return f.errorf(at+".audiences", "at least one audience is required, such as [my-api]")
	}
	for k, aud := range iss.Audiences {
		if aud == "" {
			return f.errorf(fmt.Sprintf("%s.audiences[%d]", at, k), "an audience may not be empty")
		}
	}
	return nil
}

// checkSize checks a byte count that is 0 when omitted.
func (f *ConfigFile) checkSize(key string, v, maximum int64, human string) error {
	if v < 0 || (v == 0 && f.has(key)) {
		return f.errorf(key, "must be a positive number of bytes; omit it for the default")
	}
	if v > maximum {
		return f.errorf(key, "%d is too large; the most is %d (%s)", v, maximum, human)
	}
	return nil
}

// checkKeyURL returns what is wrong with a URL keys or metadata are fetched
// from, or "".
func checkKeyURL(raw string, allowInsecure bool) string {
	return urlProblem(raw, urlrule.Rule{AllowInsecureHTTP: allowInsecure}, "use https://, or set allow_insecure_http: true")
}

// urlProblem applies rule to raw and returns what is wrong, in the words of
// the file, or "". hint ends the message for an http:// URL to a host that
// is not loopback.
func urlProblem(raw string, rule urlrule.Rule, hint string) string {
	u, err := rule.Check(raw)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, urlrule.ErrInsecureHTTP):
		return fmt.Sprintf("uses http:// for %s, which is allowed only for loopback hosts (127.0.0.1, ::1, localhost); %s", quoteValue(u.Hostname()), hint)
	default:
		return err.Error()
	}
}

func effective(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

func issuerPath(i int) string { return fmt.Sprintf("jwt.issuers[%d]", i) }

// has reports whether key was set in the file.
func (f *ConfigFile) has(key string) bool {
	_, ok := f.lines[key]
	return ok
}
