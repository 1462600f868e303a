package authserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Token request parameters this server reads. Others are ignored, as RFC
// 6749 §3.2 requires.
const (
	paramGrantType    = "grant_type"
	paramClientID     = "client_id"
	paramClientSecret = "client_secret"
	paramScope        = "scope"
	paramRefreshToken = "refresh_token"
	paramResponseType = "response_type"
)

// Introspection request parameters (RFC 7662 §2.1), besides the client's
// credentials.
const (
	paramToken         = "token"
	paramTokenTypeHint = "token_type_hint"
)

var (
	tokenParams = map[string]bool{
		paramGrantType: true, paramClientID: true, paramClientSecret: true,
		paramScope: true, paramRefreshToken: true, paramResponseType: true,
	}
	introspectionParams = map[string]bool{
		paramToken: true, paramTokenTypeHint: true, paramClientID: true, paramClientSecret: true,
	}
)

// knownParams returns the parameters ep reads.
func (ep endpoint) knownParams() map[string]bool {
	if ep.introspection {
		return introspectionParams
	}
	return tokenParams
}

// tokenRequest is a token request (or an introspection request) as read
// from the wire, before any credential is checked.
type tokenRequest struct {
	// params are the known parameters of the body, each at most once; empty
	// values are left out (RFC 6749 §3.2: "treated as if they were omitted").
	params map[string]string
	// basic is set when the client authenticated with HTTP Basic, whose
	// decoded id and secret are basicID and basicSecret.
	basic                bool
	basicID, basicSecret string
}

// readRequest reads and checks the shape of a request at ep: body
// size, Content-Type, encoding, repeated parameters and the Authorization
// header.
func readRequest(w http.ResponseWriter, r *http.Request, ep endpoint) (*tokenRequest, *oauthError) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isForm := err == nil && mediaType == "application/x-www-form-urlencoded"
	isJSON := err == nil && mediaType == "application/json"
	if !(isForm && ep.form) && !(isJSON && ep.json) {
		return nil, errInvalidRequest("the Content-Type must be " + ep.mediaTypes())
	}
	if len(r.Header.Values("Content-Type")) > 1 {
		return nil, errInvalidRequest("the request has more than one Content-Type header")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge()
		}
		return nil, errInvalidRequest("the request body could not be read")
	}
	req := &tokenRequest{}
	if isForm {
		req.params, err = parseForm(body, ep.knownParams())
	} else {
		req.params, err = parseJSON(body, ep.knownParams())
	}
	if err != nil {
		return nil, errInvalidRequest(err.Error())
	}
	if query, _ := url.ParseQuery(r.URL.RawQuery); len(query) > 0 {
		for name := range query {
			if ep.knownParams()[name] {
				return nil, errInvalidRequest("request parameters belong in the request body, not in the URL")
			}
		}
	}
	if e := req.readAuthorization(r); e != nil {
		return nil, e
	}
	return req, nil
}

// readClientRequest reads a request at ep (readRequest) and the client
// credentials it carries (see tokenRequest.credentials).
func readClientRequest(w http.ResponseWriter, r *http.Request, ep endpoint) (req *tokenRequest, id, secret string, e *oauthError) {
	if req, e = readRequest(w, r, ep); e != nil {
		return nil, "", "", e
	}
	if id, secret, e = req.credentials(ep); e != nil {
		return nil, "", "", e
	}
	return req, id, secret, nil
}

// mediaTypes names the bodies ep accepts, for error descriptions.
func (ep endpoint) mediaTypes() string {
	switch {
	case ep.form && ep.json:
		return "application/x-www-form-urlencoded or application/json"
	case ep.json:
		return "application/json"
	default:
		return "application/x-www-form-urlencoded"
	}
}

// parseForm reads the known parameters of an
// application/x-www-form-urlencoded body.
func parseForm(body []byte, known map[string]bool) (map[string]string, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the request body is not valid application/x-www-form-urlencoded")
	}
	params := map[string]string{}
	for name, vs := range values {
		if !known[name] {
			continue
		}
		if len(vs) > 1 {
			return nil, errors.New("the parameter " + name + " is repeated")
		}
		if vs[0] != "" {
			params[name] = vs[0]
		}
	}
	return params, nil
}

// parseJSON reads the known members of a JSON object body, which must be strings (null
// counts as omitted); no member may be repeated, and nothing may follow the
// object.
func parseJSON(body []byte, known map[string]bool) (map[string]string, error) {
	errMalformed := errors.New("the request body is not a JSON object")
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errMalformed
	}
	params := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errMalformed
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errMalformed
		}
		if !known[name] {
			continue
		}
		if seen[name] {
			return nil, errors.New("the parameter " + name + " is repeated")
		}
		seen[name] = true
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, errors.New("the parameter " + name + " must be a JSON string")
		}
		if v != nil && *v != "" {
			params[name] = *v
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errMalformed
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("the request body has data after the JSON object")
	}
	return params, nil
}

// readAuthorization reads HTTP Basic client credentials, whose id and secret
// are form-urlencoded before base64 (RFC 6749 §2.3.1). Any other scheme is
// an unsupported authentication method.
func (req *tokenRequest) readAuthorization(r *http.Request) *oauthError {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return nil
	case len(values) > 1:
		return errInvalidRequest("the request has more than one Authorization header")
	}
	scheme, credentials, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Basic") {
		return errInvalidClient("this server authenticates clients with HTTP Basic or client_secret parameters only")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimLeft(credentials, " "))
	if err != nil {
		return errInvalidRequest("the Basic credentials are not base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return errInvalidRequest("the Basic credentials have no ':' between client id and secret")
	}
	id, err := url.QueryUnescape(rawID)
	if err == nil {
		req.basicSecret, err = url.QueryUnescape(rawSecret)
	}
	if err != nil {
		return errInvalidRequest("the Basic credentials are not form-urlencoded (RFC 6749 section 2.3.1)")
	}
	// An empty id or secret is refused by credentials, which knows the grant.
	req.basic, req.basicID = true, id
	return nil
}

// credentials returns the client id and secret of the request, wherever ep
// allows them. A client uses one authentication method per request (RFC
// 6749 §2.3): a client_secret parameter next to Basic, or a client_id
// parameter naming another client, is refused; a client_id parameter equal to
// the Basic id is allowed (§3.2.1).
//
// A refresh_token grant (at an endpoint that has them) needs no client
// authentication, as seed 000 documents it: then secret is "", and id is
// the client_id parameter or the Basic user with an empty password, if the
// request names a client without authenticating it, or "".
func (req *tokenRequest) credentials(ep endpoint) (id, secret string, e *oauthError) {
	bodyID, bodySecret := req.params[paramClientID], req.params[paramClientSecret]
	unauthenticated := ep.refresh && req.params[paramGrantType] == grantRefreshToken
	switch {
	case req.basic && bodySecret != "":
		return "", "", errInvalidRequest("the request carries client credentials both in the Authorization header and in the body")
	case req.basic && (req.basicID == "" && req.basicSecret != "" || req.basicSecret == "" && !unauthenticated):
		return "", "", errInvalidRequest("the Basic credentials have an empty client id or secret")
	case req.basic && bodyID != "" && bodyID != req.basicID:
		return "", "", errInvalidRequest("the client_id parameter differs from the client id in the Authorization header")
	case req.basic:
		return req.basicID, req.basicSecret, nil
	case bodyID == "" && bodySecret == "" && unauthenticated:
		return "", "", nil
	case bodyID == "" && bodySecret == "":
		if ep.bodySecret {
			return "", "", errInvalidClient("client authentication is required: HTTP Basic, or client_id and client_secret parameters")
		}
		return "", "", errInvalidClient("client authentication is required: HTTP Basic")
	case !ep.bodySecret:
		return "", "", errInvalidClient("this endpoint authenticates clients with HTTP Basic only")
	case bodyID == "":
		return "", "", errInvalidRequest("the client_id parameter is missing")
	case bodySecret == "" && unauthenticated:
		return bodyID, "", nil
	case bodySecret == "":
		return "", "", errInvalidRequest("the client_secret parameter is missing")
	}
	return bodyID, bodySecret, nil
}
