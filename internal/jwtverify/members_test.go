package jwtverify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/scopes"
)

// The header and the claims set are read member by member (header.read,
// claimSet.read) rather than decoded into maps. The tests below hold that
// reading to what the checks made of the maps jsonobject.DecodeString
// gives (the reference* functions, the checks as they read those maps):
// the same tokens pass, and the refused ones are refused with the same
// description and cause.

// referenceDecodeHeader is decode's header checks on the decoded map,
// returning the refusal, or else the alg and the kid the key lookup reads
// (kidErr when the kid is not a string).
func referenceDecodeHeader(v *Verifier, data string) (e *Error, alg, kid string, kidErr bool) {
	h, err := jsonobject.DecodeString(data)
	if err != nil {
		return invalid("the access token's header is malformed", notObject("header", []byte(data))), "", "", false
	}
	algValue, hasAlg := h["alg"]
	alg, isString := algValue.(string)
	has := func(name string) bool { _, ok := h[name]; return ok }
	switch {
	case !hasAlg:
		return invalid("the access token's header names no algorithm", causef("the header has no alg")), "", "", false
	case !isString && algValue != nil:
		return invalid("the access token's header is malformed", notA("alg", "a string", algValue)), "", "", false
	case v.methods[alg] == nil:
		return invalid("the access token's signing algorithm is not accepted",
			causef("alg %.32q is none of %q", alg, v.algorithms)), "", "", false
	case has("crit"):
		return invalid("the access token has critical header extensions this server does not support",
			causef("the header has crit %s", claimValue{h["crit"]})), "", "", false
	case has("zip") || has("enc"):
		return invalid("encrypted or compressed tokens are not accepted", causef("the header has zip or enc")), "", "", false
	case has("b64"):
		return invalid("the access token uses the unencoded payload option (b64), which this server does not support",
			causef("the header has b64")), "", "", false
	}
	if s, _ := h["cty"].(string); canonicalType(s) == "jwt" {
		return invalid("nested tokens (cty JWT) are not accepted", causef("the header has cty %s", claimValue{h["cty"]})), "", "", false
	}
	typValue := h["typ"]
	typ, ok := typValue.(string)
	if !ok && typValue != nil {
		return invalid("the access token's typ header is malformed", notA("typ", "a string", typValue)), "", "", false
	}
	if e := v.checkType(typeValue(typ)); e != nil {
		return e, "", "", false
	}
	if kv, present := h["kid"]; present {
		kid, ok = kv.(string)
		kidErr = !ok
	}
	return nil, alg, kid, kidErr
}

// typeValue is a typ header of the string typ, as header.read gives it.
func typeValue(typ string) jsonobject.Value {
	var h header
	b, _ := json.Marshal(map[string]string{"typ": typ})
	_ = h.read(string(b))
	return h.typ
}

// claimsVerdict is what the checks of the claims made of one claims set,
// as text to compare.
type claimsVerdict struct {
	Decoded          bool
	Issuer           string // the unverified iss selecting the key set
	Exp, Nbf, Times  string
	AudienceOK       bool
	AudienceCause    string
	Confirmation     string
	Claims           string
	CallerRefusal    string
	TimesDescription string
}

func refusal(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Description + " / " + e.Err.Error()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return describe(err) + " / " + err.Error()
}

func claimsText(c Claims) string {
	return fmt.Sprintf("sub %q client %q scopes %q(nil %v) exp %v json %q", c.Subject, c.ClientID, []string(c.Scopes), c.Scopes == nil, c.ExpiresAt, c.JSON)
}

// referenceClaims is the reading of the claims set from the decoded map.
func referenceClaims(v *Verifier, payload string) (out claimsVerdict) {
	claims, err := jsonobject.DecodeString(payload)
	if err != nil {
		return out
	}
	out.Decoded = true
	out.Issuer, _ = claims["iss"].(string)
	exp, nbf, err := referenceCheckTimes(v, claims)
	out.Exp, out.Nbf, out.Times = exp.String(), nbf.String(), errText(err)
	out.AudienceOK = referenceAudienceOK(claims["aud"], testAudiences)
	out.AudienceCause = fmt.Sprintf("aud %s names none of %q", claimValue{claims["aud"]}, testAudiences)
	if cnf, present := claims["cnf"]; present {
		out.Confirmation = refusal(referenceConfirmation(cnf))
	}
	c, e := referenceCaller(v, claims, payload, exp)
	out.Claims, out.CallerRefusal = claimsText(c), refusal(e)
	return out
}

// structClaims is the reading of the claims set by claimSet.read.
func structClaims(v *Verifier, payload string) (out claimsVerdict) {
	t := newToken("")
	defer t.release()
	if err := t.claims.read(payload, v.scopeClaims); err != nil {
		return out
	}
	t.payload = payload
	out.Decoded = true
	out.Issuer, _ = t.claims.iss.Text()
	exp, nbf, err := v.checkTimes(&t.claims)
	out.Exp, out.Nbf, out.Times = exp.String(), nbf.String(), errText(err)
	out.AudienceOK = audienceOK(t.claims.aud, testAudiences)
	out.AudienceCause = fmt.Sprintf("aud %s names none of %q", claimValue{t.claims.aud.Decode()}, testAudiences)
	if t.claims.cnf.Kind() != jsonobject.Absent {
		_, _, e := checkConfirmation(t.claims.cnf, t.claims.cnfCount, false, false)
		out.Confirmation = refusal(e)
	}
	c, e := v.caller(&Issuer{Issuer: "https://issuer.example"}, t, exp)
	out.Claims, out.CallerRefusal = claimsText(c), refusal(e)
	return out
}

// referenceConfirmation checks cnf, as decoded into the map, with jkt
// off: the value written again as JSON, which Members reads back.
func referenceConfirmation(cnf any) *Error {
	text, err := json.Marshal(map[string]any{"cnf": cnf})
	if err != nil {
		panic(err)
	}
	var v jsonobject.Value
	_ = jsonobject.Members(string(text), func(_ string, m jsonobject.Value) { v = m })
	_, _, e := checkConfirmation(v, 1, false, false)
	return e
}

var testAudiences = []string{"api", "other"}

// referenceCheckTimes reads the dates from the decoded map for
// checkDates, as checkTimes read them.
func referenceCheckTimes(v *Verifier, claims jwt.MapClaims) (exp, nbf time.Time, err error) {
	var dates [3]dateClaim
	for i, name := range [...]string{"exp", "nbf", "iat"} {
		value, ok := claims[name]
		if !ok {
			continue
		}
		dates[i].present = true
		if n, isNumber := value.(json.Number); isNumber {
			dates[i].number = true
			dates[i].value, dates[i].err = n.Float64()
		}
	}
	return v.checkDates(dates)
}

func referenceAudienceOK(aud any, want []string) bool {
	switch aud := aud.(type) {
	case string:
		return slices.Contains(want, aud)
	case []any:
		found := false
		for _, v := range aud {
			s, ok := v.(string)
			if !ok {
				return false
			}
			found = found || slices.Contains(want, s)
		}
		return found
	}
	return false
}

func referenceStringClaim(claims jwt.MapClaims, name string) (string, bool) {
	v, present := claims[name]
	if !present || v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

func referenceCaller(v *Verifier, claims jwt.MapClaims, payload string, exp time.Time) (Claims, *Error) {
	sub, err := claims.GetSubject()
	if err != nil {
		return Claims{}, invalid("the access token's sub claim is malformed", err)
	}
	clientID, ok := referenceStringClaim(claims, "client_id")
	if !ok {
		return Claims{}, invalid("the access token's client_id claim is malformed", notA("client_id", "a string", claims["client_id"]))
	}
	if clientID == "" {
		if clientID, ok = referenceStringClaim(claims, "azp"); !ok {
			return Claims{}, invalid("the access token's azp claim is malformed", notA("azp", "a string", claims["azp"]))
		}
	}
	granted, err := scopes.Parse(claims, v.scopeClaims)
	if err != nil {
		return Claims{}, invalid("the access token's scope claim is malformed", err)
	}
	return Claims{Subject: sub, ClientID: clientID, Issuer: "https://issuer.example", Scopes: granted, ExpiresAt: exp, JSON: payload}, nil
}

// testVerifiers are the configurations the readings are compared under:
// the default scope claims, and scope claims that share names with other
// claims (and one another).
func testVerifiers() []*Verifier {
	verifiersOnce.Do(func() {
		for _, names := range [][]string{nil, {"aud", "perm", "scope", "perm", "sub"}} {
			v, err := New(Config{ScopeClaims: names, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }})
			if err != nil {
				panic(err)
			}
			verifiers = append(verifiers, v)
		}
	})
	return verifiers
}

var (
	verifiersOnce sync.Once
	verifiers     []*Verifier
)

// compareClaims fails t unless both readings of payload agree.
func compareClaims(t *testing.T, payload string) {
	for _, v := range testVerifiers() {
		want, got := referenceClaims(v, payload), structClaims(v, payload)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scope claims %q, claims %q:\n got %+v\nwant %+v", v.scopeClaims, payload, got, want)
		}
	}
}

// compareHeader fails t unless decode refuses a token with header data as
// the map reading does, or passes the same alg and kid to the key lookup.
func compareHeader(t *testing.T, data string) {
	for _, v := range testVerifiers() {
		wantE, wantAlg, wantKID, wantKIDErr := referenceDecodeHeader(v, data)
		b64 := base64.RawURLEncoding
		raw := b64.EncodeToString([]byte(data)) + "." + b64.EncodeToString([]byte(`{}`)) + ".c2ln"
		tok := newToken(raw)
		e := v.decode(tok)
		if len(data) > maxHeaderBytes*3/4 {
			tok.release()
			return
		}
		if refusal(e) != refusal(wantE) {
			tok.release()
			t.Fatalf("header %q: decode refused with %q, the map reading with %q", data, refusal(e), refusal(wantE))
		}
		kid, kidString := tok.header.kid.Text()
		kidErr := !kidString && tok.header.kid.Kind() != jsonobject.Absent
		if e == nil && (tok.header.alg != wantAlg || kid != wantKID || kidErr != wantKIDErr) {
			t.Fatalf("header %q: alg %q kid %q (not a string: %v), want %q %q (%v)", data, tok.header.alg, kid, kidErr, wantAlg, wantKID, wantKIDErr)
		}
		if e == nil {
			// The token a Keyfunc gets carries the header as its map.
			want, _ := jsonobject.DecodeString(data)
			if got := tok.jwtToken(); !reflect.DeepEqual(got.Header, want) || got.Method != golangMethod(tok.method) {
				t.Fatalf("header %q: the jwt.Token has %v, want %v", data, got.Header, want)
			}
		}
		tok.release()
	}
}

var claimSeeds = []string{
	`{"iss":"https://issuer.example","sub":"u1","aud":"api","exp":1700000100,"scope":"a b"}`,
	// Duplicates: the last wins, whatever its type.
	`{"sub":"first","sub":"last","exp":1,"exp":1700000100,"aud":["x"],"aud":"api"}`,
	`{"exp":1700000100,"exp":"soon"}`, `{"scope":"a","scope":null,"exp":1700000100}`,
	`{"cnf":{"jkt":"x"},"cnf":{},"exp":1700000100}`, `{"cnf":{},"cnf":{"jkt":"x","jkt":"y","x5t#S256":"z"},"exp":1700000100}`,
	// Escapes in names and values.
	`{"\u0073ub":"esc name","s\u0075b":"\u00e9t\u00e9","client_\u0069d":"c\"1","aud":["\u0061pi"],"exp":1700000100}`,
	`{"scope":"a\u0020b","scp":["c\/d"],"exp":1700000100}`, "{\"sub\":\"\xff\",\"exp\":1700000100}",
	`{"scope":"a\tb","exp":1700000100}`, `{"scopes":["ok","caf\u00e9"],"exp":1700000100}`,
	// Wrong types.
	`{"sub":1,"exp":1700000100}`, `{"sub":null,"exp":1700000100}`, `{"client_id":true,"exp":1700000100}`,
	`{"client_id":null,"azp":["x"],"exp":1700000100}`, `{"client_id":"","azp":"party","exp":1700000100}`,
	`{"iss":42,"exp":1700000100}`, `{"aud":{"api":true},"exp":1700000100}`, `{"aud":["api",1],"exp":1700000100}`,
	`{"aud":[],"exp":1700000100}`, `{"aud":null,"exp":1700000100}`, `{"scope":42,"exp":1700000100}`,
	`{"scope":{"a":1},"exp":1700000100}`, `{"scp":["a",null],"exp":1700000100}`, `{"scp":["a",["b"]],"exp":1700000100}`,
	`{"scp":["a",{"b":1}],"exp":1700000100}`, `{"scp":["a",false],"exp":1700000100}`, `{"scp":["a",1.5],"exp":1700000100}`,
	`{"cnf":null,"exp":1700000100}`, `{"cnf":"jkt","exp":1700000100}`, `{"cnf":[],"exp":1700000100}`,
	`{"cnf":{"a":1,"b":2,"c":3,"d":4,"e":5},"exp":1700000100}`, `{"nbf":"x","exp":1700000100}`, `{"iat":null,"exp":1700000100}`,
	`{"exp":true}`, `{"exp":{}}`, `{"exp":[]}`, `{}`,
	// Nested objects and arrays skipped, whitespace.
	` { "x" : { "sub" : "inner", "exp" : [ 1, { "aud" : "api" } ] } , "sub" : "outer" , "exp" :	1700000100
	, "aud" : [ "other" , "api" ] } `,
	`{"roles":[[],{},[{"scope":"admin"}]],"scope":"read","s":"]}\"","exp":1700000100}`,
	// Numbers.
	`{"exp":1.7000001e9}`, `{"exp":17000001e2}`, `{"exp":1e3}`, `{"exp":-0}`, `{"exp":-0.0,"nbf":0}`,
	`{"exp":1700000100.5,"nbf":1.5,"iat":1699999999.999999999}`, `{"exp":1e400}`, `{"exp":-1e400}`,
	`{"exp":1e-400}`, `{"exp":253402300799}`, `{"exp":253402300800}`, `{"exp":-1}`,
	`{"exp":1700000100,"nbf":1700000200}`, `{"exp":1700000100,"iat":1700000200}`, `{"exp":1699999000}`,
	`{"exp":1700000100,"nbf":1E+400,"iat":"x"}`, `{"exp":"x","nbf":1e400}`,
	// Not one object.
	`[]`, `"s"`, `null`, `{"a":1} x`, `{"a":1}{}`, `{"a":}`, `{`, ``, ` `,
}

var headerSeeds = []string{
	`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, `{"alg":"RS256"}`, `{"kid":"k"}`, `{"alg":null}`, `{"alg":256}`,
	`{"alg":"HS256"}`, `{"alg":"none"}`, `{"alg":"RS256","alg":"ES256"}`, `{"alg":"HS256","alg":"RS256"}`,
	`{"alg":"RS256","alg":null}`, `{"\u0061lg":"R\u00530256"}`, `{"alg":"RS256","kid":null}`, `{"alg":"RS256","kid":7}`,
	`{"alg":"RS256","kid":["a"]}`, `{"alg":"RS256","kid":"a","kid":1}`, `{"alg":"RS256","kid":1,"kid":"a"}`,
	`{"alg":"RS256","crit":["exp"]}`, `{"alg":"RS256","crit":null}`, `{"alg":"RS256","crit":1,"crit":{"a":"b"}}`,
	`{"alg":"RS256","zip":"DEF"}`, `{"alg":"RS256","enc":null}`, `{"alg":"RS256","b64":false}`,
	`{"alg":"RS256","cty":"JWT"}`, `{"alg":"RS256","cty":"application/jwt"}`, `{"alg":"RS256","cty":7}`,
	`{"alg":"RS256","cty":"jwt","cty":"json"}`, `{"alg":"RS256","typ":"JWT"}`, `{"alg":"RS256","typ":"dpop+jwt"}`,
	`{"alg":"RS256","typ":null}`, `{"alg":"RS256","typ":1}`, `{"alg":"RS256","typ":"at+jwt","typ":"id+JWT"}`,
	`{"alg":"RS256","typ":"application/AT+JWT"}`, `{"x":{"alg":"HS256","crit":[]},"alg":"EdDSA"}`,
	` {"alg" : "ES256" , "jwk":{"kty":"EC"}} `, `{"alg":"RS256"} x`, `[]`, `{`, ``, `{"alg":"RS256","kid":"\u00e9"}`,
}

func TestClaimsReadingMatchesMapReading(t *testing.T) {
	for _, seed := range claimSeeds {
		compareClaims(t, seed)
	}
}

func TestHeaderReadingMatchesMapReading(t *testing.T) {
	for _, seed := range headerSeeds {
		compareHeader(t, seed)
	}
}

func FuzzClaimsReading(f *testing.F) {
	for _, seed := range claimSeeds {
		f.Add(seed)
	}
	f.Fuzz(compareClaims)
}

func FuzzHeaderReading(f *testing.F) {
	for _, seed := range headerSeeds {
		f.Add(seed)
	}
	f.Fuzz(compareHeader)
}

// TestClaimsReading pins what the reading gives for some claims sets
// (TestClaimsReadingMatchesMapReading holds it to the map reading; this
// says what both give).
func TestClaimsReading(t *testing.T) {
	v := testVerifiers()[0]
	tests := []struct {
		name, payload string
		want          string // the caller, or the refusal
	}{
		{"plain", `{"sub":"u","client_id":"c","scope":"b a","exp":1700000100}`, `sub "u" client "c" scopes ["a" "b"]`},
		{"last duplicate wins", `{"sub":"a","sub":"b","exp":1700000100}`, `sub "b"`},
		{"escaped name", `{"s\u0075b":"x","exp":1700000100}`, `sub "x"`},
		{"escaped value", `{"sub":"\u00e9\n","exp":1700000100}`, `sub "é\n"`},
		{"azp when no client_id", `{"azp":"p","client_id":null,"exp":1700000100}`, `client "p"`},
		{"nested sub skipped", `{"o":{"sub":"inner"},"sub":"outer","exp":1700000100}`, `sub "outer"`},
		{"sub a number", `{"sub":1,"exp":1700000100}`, `the access token's sub claim is malformed / invalid type for claim: sub is invalid`},
		{"client_id an array", `{"client_id":[],"exp":1700000100}`, `the access token's client_id claim is malformed / client_id is a JSON array, not a string`},
		{"scope element a number", `{"scp":["a",1],"exp":1700000100}`, `the access token's scope claim is malformed / scopes: claim "scp" holds a json.Number, want strings`},
		{"scope an object", `{"scope":{},"exp":1700000100}`, `the access token's scope claim is malformed / scopes: claim "scope" is a map[string]interface {}, want a string or an array of strings`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := structClaims(v, tt.payload)
			text := got.CallerRefusal
			if text == "" {
				text = got.Claims
			}
			if !strings.Contains(text, tt.want) {
				t.Fatalf("got %s, want %s", text, tt.want)
			}
		})
	}
	times := []struct{ payload, want string }{
		{`{"exp":1e3}`, "the access token expired"},
		{`{"exp":-0}`, "the access token expired"},
		{`{"exp":1.7000001e9}`, ""},
		{`{"exp":1e400}`, "the access token's exp claim is out of range"},
		{`{"exp":"1700000100"}`, "the access token's claims are malformed"},
		{`{"exp":1700000100,"nbf":1700000030.9}`, ""}, // to the second: 1700000030 less the leeway is now
		{`{"exp":1700000100,"iat":1700000031}`, "the access token's iat is in the future"},
		{`{"nbf":1}`, "the access token has no expiry"},
	}
	for _, tt := range times {
		_, _, err := v.checkTimes(readClaims(t, v, tt.payload))
		if got := describeOrEmpty(err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.payload, got, tt.want)
		}
	}
}

func readClaims(t *testing.T, v *Verifier, payload string) *claimSet {
	var c claimSet
	if err := c.read(payload, v.scopeClaims); err != nil {
		t.Fatalf("%s: %v", payload, err)
	}
	return &c
}

func describeOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return describe(err)
}
