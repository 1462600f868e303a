package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
)

// wycheproofKeys is the Wycheproof JSON Web Key file (see
// testdata/wycheproof/README.md).
const wycheproofKeys = "../testdata/wycheproof/json_web_key_test.json"

// wycheproofRSAModuli returns the modulus of every RSA JWK in the Wycheproof
// JWK and JWS files, public or private, keyed by group comment and kid.
func wycheproofRSAModuli(t testing.TB) map[string]*big.Int {
	t.Helper()
	moduli := map[string]*big.Int{}
	var walk func(file string, v any)
	walk = func(file string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if n, _ := v["n"].(string); v["kty"] == "RSA" && n != "" { // wrong_kty has no n
				b, err := base64.RawURLEncoding.DecodeString(n)
				if err != nil {
					t.Fatalf("%s: RSA key %v: n: %v", file, v["kid"], err)
				}
				kid, _ := v["kid"].(string)
				moduli[kid+"/"+n[:min(len(n), 8)]] = new(big.Int).SetBytes(b)
			}
			for _, m := range v {
				walk(file, m)
			}
		case []any:
			for _, m := range v {
				walk(file, m)
			}
		}
	}
	for _, file := range []string{wycheproofKeys, "../testdata/wycheproof/json_web_signature_test.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		walk(file, doc)
	}
	return moduli
}

// rocaJWK returns the public key set of Wycheproof's JWK test tcId 7
// ("rejectsKeyWithRocaVulnerability"), as served, and its modulus.
func rocaJWK(t testing.TB) (json.RawMessage, *big.Int) {
	t.Helper()
	data, err := os.ReadFile(wycheproofKeys)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TestGroups []struct {
			Public struct {
				Keys []json.RawMessage `json:"keys"`
			} `json:"public"`
			Tests []struct {
				TcID int `json:"tcId"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, g := range file.TestGroups {
		if len(g.Tests) == 1 && g.Tests[0].TcID == 7 && len(g.Public.Keys) == 1 {
			var k struct{ N string }
			if err := json.Unmarshal(g.Public.Keys[0], &k); err != nil {
				t.Fatal(err)
			}
			b, err := base64.RawURLEncoding.DecodeString(k.N)
			if err != nil {
				t.Fatal(err)
			}
			return g.Public.Keys[0], new(big.Int).SetBytes(b)
		}
	}
	t.Fatal("Wycheproof JWK tcId 7 not found")
	return nil, nil
}

// rocaModulus returns a modulus of the RSALib form: 65537^c mod M plus a
// multiple of M, about bits long (primality plays no part in the
// fingerprint).
func rocaModulus(t testing.TB, bits int) *big.Int {
	t.Helper()
	m := rocaPrimorial()
	c, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	k, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-m.BitLen())))
	if err != nil {
		t.Fatal(err)
	}
	n := new(big.Int).Exp(big.NewInt(rocaGenerator), c, m)
	return n.Add(n, k.Mul(k, m))
}

// rocaPrimorial is the product of the primes up to 167.
func rocaPrimorial() *big.Int {
	m := big.NewInt(2)
	for _, g := range rocaGroups {
		m.Mul(m, g.product)
	}
	return m
}

func TestROCATables(t *testing.T) {
	count := 0
	for _, g := range rocaGroups {
		product := uint64(1)
		for _, p := range g.primes {
			count++
			product *= p.p
			if !smallPrime(p.p) || p.p > rocaMaxPrime {
				t.Errorf("%d is not an odd prime up to %d", p.p, rocaMaxPrime)
			}
			if (p.p-1)%uint64(p.order) != 0 {
				t.Errorf("order %d of 65537 mod %d does not divide %d", p.order, p.p, p.p-1)
			}
			members := 0
			for r, c := range p.log {
				if c == noLog {
					continue
				}
				members++
				if x := new(big.Int).Exp(big.NewInt(rocaGenerator), big.NewInt(int64(c)), big.NewInt(int64(p.p))); x.Uint64() != uint64(r) {
					t.Errorf("mod %d: 65537^%d = %d, table says %d", p.p, c, x, r)
				}
			}
			if members != int(p.order) {
				t.Errorf("mod %d: %d residues have a logarithm, want the order %d", p.p, members, p.order)
			}
		}
		if g.product.Uint64() != product {
			t.Errorf("group product %v, want %d", g.product, product)
		}
	}
	if count != rocaPrimeCount {
		t.Fatalf("%d primes, want %d", count, rocaPrimeCount)
	}
	// The primorial of the primes up to 167, as published with the
	// detection tools, and the order of 65537 modulo it.
	want, _ := new(big.Int).SetString("962947420735983927056946215901134429196419130606213075415963491270", 10)
	if m := rocaPrimorial(); m.Cmp(want) != 0 {
		t.Fatalf("primorial %v, want %v", m, want)
	}
}

func TestROCAFingerprint(t *testing.T) {
	_, n := rocaJWK(t)
	if !hasROCAFingerprint(n) {
		t.Fatal("the Wycheproof ROCA key (JWK tcId 7) is not detected")
	}
	for name, n := range wycheproofRSAModuli(t) {
		if got, want := hasROCAFingerprint(n), strings.HasPrefix(name, "kid-rsa-roca-sign/"); got != want {
			t.Errorf("Wycheproof RSA key %s: ROCA fingerprint %v, want %v", name, got, want)
		}
	}
	fresh, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if rocaWeak(&fresh.PublicKey) {
		t.Fatal("a fresh crypto/rsa key has the ROCA fingerprint")
	}
	for _, bits := range []int{512, 1024, 2048, 3072, 4096, 8192} {
		for range 20 {
			if n := rocaModulus(t, bits); !hasROCAFingerprint(n) {
				t.Fatalf("RSALib-form modulus of %d bits not detected: %v", bits, n)
			}
		}
	}
	// Random odd numbers: a false positive has probability 2^-155 each.
	for range 2000 {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 2048))
		if err != nil {
			t.Fatal(err)
		}
		if n.SetBit(n, 0, 1); hasROCAFingerprint(n) {
			t.Fatalf("random modulus flagged: %v", n)
		}
	}
	for _, n := range []*big.Int{big.NewInt(0), big.NewInt(-65537), big.NewInt(1), big.NewInt(65537)} {
		want := n.Sign() > 0 // 1 and 65537 are powers of 65537
		if got := hasROCAFingerprint(n); got != want {
			t.Errorf("hasROCAFingerprint(%v) = %v, want %v", n, got, want)
		}
	}
	for _, k := range []any{nil, (*rsa.PublicKey)(nil), &rsa.PublicKey{}, &ecdsa.PublicKey{}, ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))} {
		if rocaWeak(k) {
			t.Errorf("rocaWeak(%T) = true", k)
		}
	}
}

// TestROCAJointLogarithm: a modulus whose residues are each a power of 65537
// but with no common exponent is not flagged, so the pairwise check does its
// part.
func TestROCAJointLogarithm(t *testing.T) {
	m := rocaPrimorial()
	n := rocaModulus(t, 2048)
	// 65537 ≡ 2 (mod 3) and ≡ 2 (mod 5), of orders 2 and 4: flipping the
	// residue mod 3 between 1 and 2 changes the parity of its logarithm
	// alone.
	if p := rocaGroups[0].primes[:2]; p[0].p != 3 || p[0].order != 2 || p[1].p != 5 || p[1].order != 4 {
		t.Fatalf("first primes %d (order %d), %d (order %d)", p[0].p, p[0].order, p[1].p, p[1].order)
	}
	third := new(big.Int).Div(m, big.NewInt(3)) // ≡ 0 mod every prime but 3
	three := big.NewInt(3)
	want := 3 - new(big.Int).Mod(n, three).Uint64() // 1 <-> 2
	for new(big.Int).Mod(n, three).Uint64() != want {
		n.Add(n, third)
	}
	for _, g := range rocaGroups {
		r := new(big.Int).Mod(n, g.product).Uint64()
		for _, p := range g.primes {
			if p.log[r%p.p] == noLog {
				t.Fatalf("residue mod %d has no logarithm", p.p)
			}
		}
	}
	if hasROCAFingerprint(n) {
		t.Fatal("a modulus with inconsistent logarithms is flagged")
	}
}

// pairwiseROCA is hasROCAFingerprint with the agreement of the logarithms
// checked for every pair of primes, modulo the gcd of their orders.
func pairwiseROCA(n *big.Int) bool {
	var logs, orders []uint8
	for _, g := range rocaGroups {
		for _, p := range g.primes {
			c := p.log[new(big.Int).Mod(n, new(big.Int).SetUint64(p.p)).Uint64()]
			if c == noLog {
				return false
			}
			logs, orders = append(logs, c), append(orders, p.order)
		}
	}
	for i := range logs {
		for j := range i {
			d := new(big.Int).GCD(nil, nil, big.NewInt(int64(orders[i])), big.NewInt(int64(orders[j]))).Uint64()
			if uint64(logs[i])%d != uint64(logs[j])%d {
				return false
			}
		}
	}
	return true
}

// TestROCAAgreements: the prime-power agreements of rocaChecks decide as
// the pairwise conditions do, on moduli whose residues are all powers of
// 65537 with logarithms drawn at random, some of them from one exponent.
func TestROCAAgreements(t *testing.T) {
	m := rocaPrimorial()
	var primes []rocaPrime
	for _, g := range rocaGroups {
		primes = append(primes, g.primes...)
	}
	random := func(limit int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(limit)))
		if err != nil {
			t.Fatal(err)
		}
		return int(v.Int64())
	}
	flagged := 0
	for range 3000 {
		// N ≡ 65537^c (mod p) for all p, then a few logarithms changed.
		c := random(1 << 30)
		n := new(big.Int)
		changed := random(4) // 0 to 3
		for k, p := range primes {
			e := c
			if k < changed || random(len(primes)) < changed {
				e = random(int(p.order))
			}
			pp := new(big.Int).SetUint64(p.p)
			r := new(big.Int).Exp(big.NewInt(rocaGenerator), big.NewInt(int64(e)), pp)
			rest := new(big.Int).Div(m, pp)
			inv := new(big.Int).ModInverse(rest, pp)
			n.Add(n, r.Mul(r, rest.Mul(rest, inv)))
		}
		n.Mod(n, m)
		got, want := hasROCAFingerprint(n), pairwiseROCA(n)
		if got != want {
			t.Fatalf("modulus %v: hasROCAFingerprint %v, pairwise %v", n, got, want)
		}
		if got {
			flagged++
		}
	}
	if flagged == 0 || flagged == 3000 {
		t.Fatalf("%d of 3000 flagged: the sample does not exercise both answers", flagged)
	}
	t.Logf("%d agreement checks; %d of 3000 sampled moduli flagged", len(rocaChecks), flagged)
}

// TestROCAKeySkipped: a JWK Set member with the ROCA fingerprint is skipped
// at load and counted, like an oversized RSA key, and the other keys stay.
func TestROCAKeySkipped(t *testing.T) {
	roca, _ := rocaJWK(t)
	fresh, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good, err := jwkset.NewJWKFromKey(&fresh.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "fresh", ALG: jwkset.AlgRS256}})
	if err != nil {
		t.Fatal(err)
	}
	goodRaw, err := json.Marshal(good.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	keys, skipped := readKeys(context.Background(), []json.RawMessage{roca, goodRaw}, slog.New(slog.DiscardHandler), "test")
	if len(keys) != 1 || keys[0].kid != "fresh" || skipped != 1 {
		t.Fatalf("readKeys: %d keys, %d skipped", len(keys), skipped)
	}

	body, err := json.Marshal(map[string]any{"keys": []json.RawMessage{roca, goodRaw}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	r, err := NewRemote(context.Background(), srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if s := r.Status(); s.Keys != 1 || s.Skipped != 1 || s.LastError != "" {
		t.Fatalf("status %+v, want 1 key and 1 skipped", s)
	}
	if ks := r.keys.Load(); ks.hasKID("kid-rsa-roca-sign") || !ks.hasKID("fresh") {
		t.Fatal("the ROCA key is indexed, or the fresh key is not")
	}
}

// BenchmarkROCA is the cost the check adds to loading one RSA key: typical
// keys (a fresh modulus, refused at one of the first primes) and the worst
// case (a modulus with the fingerprint, checked to the end).
func BenchmarkROCA(b *testing.B) {
	for _, bits := range []int{2048, 4096, 8192} {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
		if err != nil {
			b.Fatal(err)
		}
		n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
		for _, c := range []struct {
			name string
			n    *big.Int
		}{{"random", n}, {"fingerprint", rocaModulus(b, bits)}} {
			b.Run(c.name+"/"+big.NewInt(int64(bits)).String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					hasROCAFingerprint(c.n)
				}
			})
		}
	}
}

// BenchmarkReadRSAKey is the whole load of one 2048-bit RSA JWK, the ROCA
// check included, for comparison with BenchmarkROCA.
func BenchmarkReadRSAKey(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k", ALG: jwkset.AlgRS256}})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(j.Marshal())
	if err != nil {
		b.Fatal(err)
	}
	members := []json.RawMessage{raw}
	logger := slog.New(slog.DiscardHandler)
	b.ReportAllocs()
	for b.Loop() {
		if keys, _ := readKeys(context.Background(), members, logger, "bench"); len(keys) != 1 {
			b.Fatal("key not read")
		}
	}
}

// TestStaticRefusesROCA: a PEM or Go-supplied key with the ROCA fingerprint
// is refused by NewStatic, as a JWK Set's is skipped.
func TestStaticRefusesROCA(t *testing.T) {
	_, n := rocaJWK(t)
	_, err := NewStatic("roca.pem", &rsa.PublicKey{N: n, E: 65537})
	if err == nil || !strings.Contains(err.Error(), "ROCA") {
		t.Fatalf("NewStatic with the ROCA key: %v, want a refusal naming ROCA", err)
	}
}
