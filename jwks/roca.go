package jwks

import (
	"cmp"
	"crypto"
	"crypto/rsa"
	"math/big"
	"slices"
)

// ROCA (CVE-2017-15361) is the weakness of the RSA keys that Infineon's
// RSALib generated, in smart cards and TPMs from 2012 to 2017: their moduli
// can be factored in CPU-days to CPU-years (Nemec, Sýs, Švenda, Klinec and
// Matyáš, "The Return of Coppersmith's Attack: Practical Factorization of
// Widely Used RSA Moduli", ACM CCS 2017).
//
// RSALib built each prime as p = k·M + (65537^a mod M), with M the product
// of the first primes (2 to 167 for the smallest keys; larger keys use more
// primes, so M is always a multiple of that product). Hence N = p·q ≡
// 65537^(a+b) (mod M): the modulus lies in the subgroup of (Z/MZ)* that 65537
// generates, the fingerprint the paper publishes. A modulus made by any other
// key generator lands there with probability ord(65537)/φ(M) ≈ 2^-155.
//
// The test is the paper's: whether the discrete logarithm of N to base 65537
// modulo M exists, computed prime by prime as in Pohlig–Hellman. For each
// odd prime p up to 167 (modulo 2 every odd modulus passes), c_p, the
// logarithm of N mod p, must exist; it is defined modulo the order o_p of
// 65537 mod p. N is then a power of 65537 modulo M exactly when one exponent
// c satisfies c ≡ c_p (mod o_p) for every p, that is (Chinese remainder
// theorem) when c_p ≡ c_q (mod gcd(o_p, o_q)) for every pair p, q. Checking
// only that each c_p exists would let about 2^-28 of all moduli through;
// the agreement of the logarithms brings that to the 2^-155 above.
//
// The logarithms are read from tables built once. The pairwise agreement
// is checked one prime power at a time: for each prime power s^e that
// divides some order, the logarithms agree modulo it with that of the prime
// whose order holds the highest power of s, which implies every pairwise
// condition and follows from them. A key costs a few divisions of its
// modulus by a word and about a hundred small comparisons.

// rocaGenerator is the base of RSALib's primes.
const rocaGenerator = 65537

// rocaMaxPrime is the largest prime of the smallest M that RSALib used.
const rocaMaxPrime = 167

// rocaPrimeCount is the number of odd primes up to rocaMaxPrime.
const rocaPrimeCount = 38

// noLog marks a residue outside the subgroup 65537 generates.
const noLog = 0xff

// rocaPrime is one odd prime of M with the discrete logarithms to base 65537
// of its residues.
type rocaPrime struct {
	p     uint64
	order uint8   // of 65537 modulo p; at most p-1 < noLog
	log   []uint8 // log[r] for 0 <= r < p, or noLog
}

// rocaGroup is a run of primes whose product fits a word, so that one
// division of the modulus yields all their residues.
type rocaGroup struct {
	product *big.Int // read only
	primes  []rocaPrime
}

// rocaAgree says that the logarithms modulo the i-th and j-th primes (in
// the order of rocaGroups) must agree modulo d.
type rocaAgree struct{ i, j, d uint8 }

// rocaGroups holds the odd primes up to rocaMaxPrime, in order; rocaChecks
// the agreements their logarithms must satisfy.
var rocaGroups, rocaChecks = newROCATables()

// newROCATables builds the logarithm tables of the odd primes up to
// rocaMaxPrime, groups the primes by products below 2^64 and lists the
// agreements of their logarithms.
func newROCATables() ([]rocaGroup, []rocaAgree) {
	var groups []rocaGroup
	var orders []uint8
	product := uint64(1)
	for p := uint64(3); p <= rocaMaxPrime; p += 2 {
		if !smallPrime(p) {
			continue
		}
		rp := rocaPrime{p: p, log: make([]uint8, p)}
		for r := range rp.log {
			rp.log[r] = noLog
		}
		x := uint64(1)
		for c := uint8(0); ; c++ {
			rp.log[x] = c
			x = x * rocaGenerator % p
			if x == 1 {
				rp.order = c + 1
				break
			}
		}
		if len(groups) == 0 || product > ^uint64(0)/p {
			groups = append(groups, rocaGroup{})
			product = 1
		}
		product *= p
		g := &groups[len(groups)-1]
		g.primes = append(g.primes, rp)
		g.product = new(big.Int).SetUint64(product)
		orders = append(orders, rp.order)
	}
	// For each prime s dividing an order, the prime whose order holds the
	// highest power of s is the reference; every other order divisible by
	// s agrees with it modulo the power of s that divides that order.
	moduli := make(map[[2]uint8]uint8) // (i, reference) -> product of those powers
	for s := uint8(2); s < rocaMaxPrime; s++ {
		if !smallPrime(uint64(s)) {
			continue
		}
		power := func(o uint8) (pe uint8) {
			for pe = 1; o%s == 0; o /= s {
				pe *= s
			}
			return pe
		}
		ref := 0
		for i, o := range orders {
			if power(o) > power(orders[ref]) {
				ref = i
			}
		}
		for i, o := range orders {
			if pe := power(o); i != ref && pe > 1 {
				k := [2]uint8{uint8(i), uint8(ref)}
				moduli[k] = max(moduli[k], 1) * pe
			}
		}
	}
	checks := make([]rocaAgree, 0, len(moduli))
	for k, d := range moduli {
		checks = append(checks, rocaAgree{i: k[0], j: k[1], d: d})
	}
	slices.SortFunc(checks, func(a, b rocaAgree) int {
		return cmp.Or(cmp.Compare(a.i, b.i), cmp.Compare(a.j, b.j))
	})
	return groups, checks
}

func smallPrime(p uint64) bool {
	for d := uint64(2); d*d <= p; d++ {
		if p%d == 0 {
			return false
		}
	}
	return p >= 2
}

// rocaWeak reports whether key is an RSA public key whose modulus has the
// ROCA fingerprint.
func rocaWeak(key crypto.PublicKey) bool {
	k, ok := key.(*rsa.PublicKey)
	return ok && k != nil && k.N != nil && hasROCAFingerprint(k.N)
}

// hasROCAFingerprint reports whether n is, modulo the product of the primes
// up to 167, a power of 65537 (see the comment at the top of this file).
func hasROCAFingerprint(n *big.Int) bool {
	if n.Sign() <= 0 {
		return false
	}
	var logs [rocaPrimeCount]uint8
	i := 0
	var rem big.Int
	for _, g := range rocaGroups {
		r := rem.Mod(n, g.product).Uint64()
		for _, p := range g.primes {
			c := p.log[r%p.p]
			if c == noLog {
				return false
			}
			logs[i] = c
			i++
		}
	}
	for _, c := range rocaChecks {
		if logs[c.i]%c.d != logs[c.j]%c.d {
			return false
		}
	}
	return true
}
