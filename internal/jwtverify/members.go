package jwtverify

import (
	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/internal/scopetoken"
	"github.com/keyward/keyward/scopes"
)

// header is what decode reads of a JOSE header: the members it checks or
// hands to the key lookup, the last of each name (RFC 7519 §4 lets a
// parser keep the last of duplicate names, as golang-jwt does, as a map
// would), and the presence of those it refuses. Member names are
// case-sensitive (RFC 7515 §4).
type header struct {
	json                string           // the whole header, of which the strings are parts
	alg                 string           // "" unless algValue is a string
	algValue            jsonobject.Value // checked by decode
	kid, typ, cty, crit jsonobject.Value
	zip, enc, b64       bool // present
}

// read reads data, which must be one JSON object.
func (h *header) read(data string) error {
	*h = header{json: data}
	err := jsonobject.Members(data, func(name string, v jsonobject.Value) {
		switch name {
		case "alg":
			h.algValue = v
		case "kid":
			h.kid = v
		case "typ":
			h.typ = v
		case "cty":
			h.cty = v
		case "crit":
			h.crit = v
		case "zip":
			h.zip = true
		case "enc":
			h.enc = true
		case "b64":
			h.b64 = true
		}
	})
	h.alg, _ = h.algValue.Text()
	return err
}

// claimSet is what Verify reads of a claims set: the last member of each
// name it checks (as for header), not yet decoded. A claim whose value is
// of the wrong JSON type is malformed, and its check says so: a string
// claim must be a string, a date a number.
type claimSet struct {
	iss, sub, aud, exp, nbf, iat, clientID, azp, cnf jsonobject.Value
	cnfCount                                         int                // cnf members, duplicates included
	scopes                                           []jsonobject.Value // by scope claim name, in the order of Verifier.scopeClaims
}

// read reads payload, which must be one JSON object, with the scope
// claims named scopeClaims.
func (c *claimSet) read(payload string, scopeClaims []string) error {
	list := c.scopes[:0]
	for range scopeClaims {
		list = append(list, jsonobject.Value{})
	}
	*c = claimSet{scopes: list}
	return jsonobject.Members(payload, func(name string, v jsonobject.Value) {
		switch name {
		case "iss":
			c.iss = v
		case "sub":
			c.sub = v
		case "aud":
			c.aud = v
		case "exp":
			c.exp = v
		case "nbf":
			c.nbf = v
		case "iat":
			c.iat = v
		case "client_id":
			c.clientID = v
		case "azp":
			c.azp = v
		case "cnf":
			c.cnf = v
			c.cnfCount++
		}
		for i, scope := range scopeClaims { // a scope claim may have any name, even one of those above
			if name == scope {
				c.scopes[i] = v
			}
		}
	})
}

// readScopes collects the scopes of the scope claims named names, whose
// values are values, as scopes.Parse would from the decoded claims.
func readScopes(names []string, values []jsonobject.Value) (scopes.Set, error) {
	var c scopetoken.Collector
	for i, name := range names {
		var err error
		switch v := values[i]; v.Kind() {
		case jsonobject.Absent, jsonobject.Null:
		case jsonobject.String:
			s, _ := v.Text()
			err = c.String(name, s)
		case jsonobject.Array:
			for e := range v.Elements {
				if s, ok := e.Text(); ok {
					err = c.Element(name, s)
				} else {
					err = scopetoken.ElementError(name, e.Decode())
				}
				if err != nil {
					break
				}
			}
		default:
			err = scopetoken.ClaimError(name, v.Decode())
		}
		if err != nil {
			return nil, err
		}
	}
	return scopes.Set(c.Set()), nil
}
