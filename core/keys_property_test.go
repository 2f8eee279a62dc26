package core_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/redcache/redcache/core"
)

// This file checks the key encoding against its definition of equality
// (see core.KeyAppender): over random pairs of arguments, two arguments
// share a key exactly when argsEqual says they are equal.
//
// argsEqual is the definition, written without the encoder:
//   - values of different types (dynamic types, inside an interface) differ;
//   - floats are equal when they are the same number with the same sign,
//     and every NaN equals every NaN (so -0 and +0 differ);
//   - times (and types defined as time.Time) are equal when they are the
//     same instant: Equal once their monotonic clock readings are stripped;
//     *time.Location when their names are;
//   - a KeyAppender is equal to another when it appends the same bytes
//     (for customKey and ptrKey below: when their ids are);
//   - nil and empty slices are equal, and so are nil and empty maps;
//   - maps are equal when their (key, value) pairs pair up one to one;
//   - pointers when both are nil or both point to equal values;
//   - structs field by field (unexported fields included), arrays and
//     slices element by element, everything else with ==.

var (
	timeT     = reflect.TypeFor[time.Time]()
	locationT = reflect.TypeFor[*time.Location]()
	ptrKeyT   = reflect.TypeFor[ptrKey]()
	customT   = reflect.TypeFor[customKey]()
)

// argsEqual is the test's definition of equal arguments.
func argsEqual(a, b any) bool {
	// Work on addressable copies, so that unexported fields can be read
	// through their address.
	x := reflect.New(reflect.TypeOf(&a).Elem()).Elem()
	x.Set(reflect.ValueOf(&a).Elem())
	y := reflect.New(reflect.TypeOf(&b).Elem()).Elem()
	y.Set(reflect.ValueOf(&b).Elem())
	return equalValues(x, y)
}

func equalValues(x, y reflect.Value) bool {
	if !x.IsValid() || !y.IsValid() {
		return x.IsValid() == y.IsValid()
	}
	if x.Type() != y.Type() {
		return false
	}
	t := x.Type()
	switch {
	case t == ptrKeyT || t == customT:
		x, y = addr(x), addr(y)
		return x.FieldByName("id").Int() == y.FieldByName("id").Int()
	case t == timeT || t.Kind() == reflect.Struct && t.ConvertibleTo(timeT):
		// Monotonic clock readings are not part of the instant: they
		// mean nothing in another process.
		return x.Convert(timeT).Interface().(time.Time).Round(0).Equal(y.Convert(timeT).Interface().(time.Time).Round(0))
	case t == locationT:
		if x.IsNil() || y.IsNil() {
			return x.IsNil() == y.IsNil()
		}
		return x.Interface().(*time.Location).String() == y.Interface().(*time.Location).String()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return sameFloat(x.Float(), y.Float())
	case reflect.Complex64, reflect.Complex128:
		return sameFloat(real(x.Complex()), real(y.Complex())) && sameFloat(imag(x.Complex()), imag(y.Complex()))
	case reflect.Interface, reflect.Pointer:
		if x.IsNil() || y.IsNil() {
			return x.IsNil() == y.IsNil()
		}
		return equalValues(x.Elem(), y.Elem())
	case reflect.Slice, reflect.Array:
		if x.Len() != y.Len() {
			return false
		}
		if t.Kind() == reflect.Array {
			x, y = addr(x), addr(y)
		}
		for i := 0; i < x.Len(); i++ {
			if !equalValues(x.Index(i), y.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if x.Len() != y.Len() {
			return false
		}
		type kv struct{ k, v reflect.Value }
		var ys []kv
		for it := y.MapRange(); it.Next(); {
			ys = append(ys, kv{it.Key(), it.Value()})
		}
		// Equality is an equivalence, so matching greedily finds a
		// one-to-one pairing when there is one.
	next:
		for it := x.MapRange(); it.Next(); {
			for i, p := range ys {
				if equalValues(it.Key(), p.k) && equalValues(it.Value(), p.v) {
					ys = append(ys[:i], ys[i+1:]...)
					continue next
				}
			}
			return false
		}
		return true
	case reflect.Struct:
		x, y = addr(x), addr(y)
		for i := 0; i < t.NumField(); i++ {
			if !equalValues(open(x.Field(i)), open(y.Field(i))) {
				return false
			}
		}
		return true
	case reflect.String:
		return x.String() == y.String()
	case reflect.Bool:
		return x.Bool() == y.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return x.Int() == y.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return x.Uint() == y.Uint()
	}
	panic("argsEqual: no rule for " + t.String())
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func addr(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}

func open(f reflect.Value) reflect.Value {
	if f.CanInterface() {
		return f
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// gen builds random arguments. Every choice that changes the value comes
// from a tape, so a tape can be replayed (the same value), replayed with
// one choice changed (a close value) or fed by a fuzzer. Choices that
// must not change the value (a time's zone and monotonic reading, nil or
// empty, a NaN's bits, a map's layout, a field an AppendKey leaves out)
// come from rep, so replaying a tape with another rep builds an equal
// value in another form.
type gen struct {
	tape []byte
	pos  int
	more *rand.Rand // extends the tape when it runs out; nil: zeros
	rep  *rand.Rand
	now  time.Time // carries a monotonic clock reading

	inKey bool // building a map key
}

// r is a choice of form, which must not change the value. In a map key
// it comes from the tape: there a form is part of the Go map's identity
// (equal instants in two zones are two keys), so both values of a pair
// must make the same choice.
func (g *gen) r(k int) int {
	if g.inKey {
		return g.n(k)
	}
	return g.rep.IntN(k)
}

// key builds a map key.
func (g *gen) key(f func() any) any {
	g.inKey = true
	defer func() { g.inKey = false }()
	return f()
}

func (g *gen) n(k int) int {
	if g.pos == len(g.tape) {
		if g.more == nil {
			return 0
		}
		g.tape = append(g.tape, byte(g.more.Uint32()))
	}
	b := g.tape[g.pos]
	g.pos++
	return int(b) % k
}

var (
	zoneA = time.FixedZone("A", 3600)
	zoneB = time.FixedZone("B", -7200)
	// The strings are short and full of the encoding's own syntax.
	alphabet = []string{"a", "{", "}", "\\", "(", ":", ",", "=", "s1", "1", "<", "x"}
	floats   = []float64{0, math.Copysign(0, -1), 1, -1.5, math.NaN(), math.Inf(1), 1e-300, 7}
	instants = []time.Time{time.Unix(0, 0), time.Unix(100, 0), time.Unix(100, 1), time.Unix(1e9, 5e8), time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)}
)

func (g *gen) str() string {
	s := ""
	for i := g.n(4); i > 0; i-- {
		s += alphabet[g.n(len(alphabet))]
	}
	return s
}

func (g *gen) bytes() []byte {
	s := g.str()
	if s == "" && g.r(2) == 0 {
		return nil
	}
	return []byte(s)
}

func (g *gen) float() float64 {
	f := floats[g.n(len(floats))]
	if math.IsNaN(f) {
		switch g.r(3) {
		case 1:
			return math.Float64frombits(0x7ff8000000000001)
		case 2:
			return math.Copysign(math.NaN(), -1)
		}
	}
	return f
}

func (g *gen) time() time.Time {
	t := instants[g.n(len(instants))]
	if g.r(2) == 0 {
		t = g.now.Add(t.Sub(g.now)) // the same instant with a monotonic reading
	}
	switch g.r(4) {
	case 1:
		t = t.In(zoneA)
	case 2:
		t = t.In(zoneB)
	case 3:
		t = t.UTC()
	}
	return t
}

func (g *gen) location() *time.Location {
	switch g.n(3) {
	case 0:
		return nil
	case 1:
		if g.r(2) == 0 {
			return zoneA
		}
		return time.FixedZone("A", 3600)
	}
	return zoneB
}

func (g *gen) intPtr() *int {
	if g.n(3) == 0 {
		return nil
	}
	i := g.n(3)
	return &i
}

// inner has only unexported fields: the key reads them all.
type inner struct {
	n int
	t time.Time
	f float64
	p *int
	a any
	m map[string]time.Time
}

// rec is a struct argument with a field of every kind the encoder knows.
type rec struct {
	S     string
	B     []byte
	I     int64
	F     float64
	F32   float32
	C     complex128
	T     time.Time
	t     time.Time
	St    stamp
	P     *int
	PP    **int
	A     any
	L     []any
	M     map[string]any
	NaNs  map[float64]int
	K     ptrKey
	k     customKey
	PK    *ptrKey
	In    inner
	pIn   *inner
	Loc   *time.Location
	Arr   [2]string
	IDs   []userID
	Times map[time.Time]int
}

func (g *gen) inner(depth int) inner {
	v := inner{n: g.n(3), t: g.time(), f: g.float(), p: g.intPtr(), a: g.any(depth + 1)}
	if k := g.n(3); k > 0 || g.r(2) == 0 {
		v.m = map[string]time.Time{}
		for ; k > 0; k-- {
			v.m[g.str()] = g.time()
		}
	}
	return v
}

func (g *gen) rec(depth int) rec {
	r := rec{
		S: g.str(), B: g.bytes(), I: int64(g.n(3)), F: g.float(), F32: float32(g.float()),
		C: complex(g.float(), g.float()), T: g.time(), t: g.time(), St: stamp(g.time()),
		P: g.intPtr(), A: g.any(depth + 1), L: g.list(depth + 1), M: g.stringMap(depth + 1),
		NaNs: g.floatMap(), K: ptrKey{g.n(3), g.r(9)}, k: customKey{g.n(3), g.r(9)},
		In: g.inner(depth + 1), Loc: g.location(), Arr: [2]string{g.str(), g.str()},
	}
	if g.n(2) == 1 {
		p := g.intPtr()
		r.PP = &p
	}
	if g.n(2) == 1 {
		r.PK = &ptrKey{g.n(3), g.r(9)}
	}
	if g.n(3) == 1 {
		in := g.inner(depth + 1)
		r.pIn = &in
	}
	for i := g.n(3); i > 0; i-- {
		r.IDs = append(r.IDs, userID(g.n(3)))
	}
	if r.IDs == nil && g.r(2) == 0 {
		r.IDs = []userID{}
	}
	if k := g.n(3); k > 0 {
		r.Times = map[time.Time]int{}
		for ; k > 0; k-- {
			r.Times[g.key(func() any { return g.time() }).(time.Time)] = g.n(2)
		}
	}
	return r
}

func (g *gen) list(depth int) []any {
	n := g.n(4)
	if n == 0 && g.r(2) == 0 {
		return nil
	}
	l := make([]any, n)
	for i := range l {
		l[i] = g.any(depth + 1)
	}
	return l
}

// relayout copies m into a new map half of the time: the same pairs,
// another iteration order.
func relayout[K comparable, V any](g *gen, m map[K]V) map[K]V {
	if m == nil || g.r(2) == 0 {
		return m
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (g *gen) stringMap(depth int) map[string]any {
	n := g.n(4)
	if n == 0 && g.r(2) == 0 {
		return nil
	}
	m := map[string]any{}
	for ; n > 0; n-- {
		m[g.str()] = g.any(depth + 1)
	}
	return relayout(g, m)
}

func (g *gen) floatMap() map[float64]int {
	n := g.n(5)
	if n == 0 && g.r(2) == 0 {
		return nil
	}
	m := map[float64]int{}
	for ; n > 0; n-- {
		m[g.float()] = g.n(3)
	}
	return relayout(g, m)
}

// comparable returns a value that can be a key of a map[any]V.
func (g *gen) comparable() any {
	switch g.n(10) {
	case 0:
		return nil
	case 1:
		return g.n(3)
	case 2:
		return userID(g.n(3))
	case 3:
		return int64(g.n(3))
	case 4:
		return g.str()
	case 5:
		return g.float()
	case 6:
		return g.time()
	case 7:
		return pair{g.str(), g.str()}
	case 8:
		return customKey{g.n(3), g.r(9)}
	}
	return g.n(2) == 0
}

// any returns a random value; below depth 3 it may be a container.
func (g *gen) any(depth int) any {
	k := 40
	if depth >= 3 {
		k = 22 // leaves only
	}
	switch g.n(k) {
	case 0:
		return nil
	case 1:
		return g.n(5) - 2
	case 2:
		return int64(g.n(3))
	case 3:
		return userID(g.n(3))
	case 4:
		return orderID(g.n(3))
	case 5:
		return int8(g.n(3))
	case 6:
		return uint(g.n(3))
	case 7:
		return g.float()
	case 8:
		return float32(g.float())
	case 9, 10:
		return g.str()
	case 11:
		return g.bytes()
	case 12:
		return g.n(2) == 0
	case 13:
		return g.time()
	case 14:
		return stamp(g.time())
	case 15:
		return customKey{g.n(3), g.r(9)}
	case 16:
		return ptrKey{g.n(3), g.r(9)}
	case 17:
		return g.intPtr()
	case 18:
		return complex(g.float(), g.float())
	case 19:
		return g.location()
	case 20:
		return pair{g.str(), g.str()}
	case 21:
		return &ptrKey{g.n(3), g.r(9)}
	case 22, 23:
		return g.list(depth)
	case 24, 25:
		return g.stringMap(depth)
	case 26:
		return g.floatMap()
	case 27:
		m := map[any]int{}
		for n := g.n(4); n > 0; n-- {
			m[g.key(g.comparable)] = g.n(2)
		}
		return relayout(g, m)
	case 28:
		return g.inner(depth)
	case 29:
		return [2]any{g.any(depth + 1), g.any(depth + 1)}
	case 30:
		switch g.n(3) {
		case 0:
			return (*any)(nil)
		case 1:
			var a any
			return &a
		}
		a := g.any(depth + 1)
		return &a
	case 31:
		if g.n(2) == 0 {
			return (**int)(nil)
		}
		p := g.intPtr()
		return &p
	case 32:
		m := map[time.Time]int{}
		for n := g.n(3); n > 0; n-- {
			m[g.key(func() any { return g.time() }).(time.Time)] = g.n(2)
		}
		return m
	case 33:
		return []string{g.str(), g.str()}[:g.n(3)]
	case 34:
		return map[userID][]byte{userID(g.n(2)): g.bytes()}
	case 35:
		return struct {
			A any
			B string
		}{g.any(depth + 1), g.str()}
	case 36:
		return struct{ A, B any }{g.any(depth + 1), g.str()}
	case 37:
		if depth >= 1 {
			return g.str()
		}
		return g.rec(depth + 1)
	case 38:
		return [0]int{}
	}
	return struct{}{}
}

// keyFuncs are the memoized functions whose keys the test compares: an
// any argument, a struct argument and two arguments.
type keyFuncs struct {
	one  *core.Memo[any, int]
	rec  *core.Memo[rec, int]
	two  *core.Memo2[any, any, int]
	kind int
}

func newKeyFuncs() keyFuncs {
	m := core.New(core.WithPrefix("p"))
	fn := func(context.Context, any) (int, error) { return 0, nil }
	return keyFuncs{
		one: core.Memoize(m, "one", fn),
		rec: core.Memoize(m, "rec", func(context.Context, rec) (int, error) { return 0, nil }),
		two: core.Memoize2(m, "two", func(context.Context, any, any) (int, error) { return 0, nil }),
	}
}

// args builds one argument for the function of the given kind.
func (g *gen) args(kind int) any {
	switch kind {
	case 0:
		return g.any(0)
	case 1:
		return g.rec(2)
	}
	return [2]any{g.any(1), g.any(1)}
}

func (f keyFuncs) key(kind int, a any) string {
	var k string
	var err error
	switch kind {
	case 0:
		k, err = f.one.Key(a)
	case 1:
		k, err = f.rec.Key(a.(rec))
	default:
		p := a.([2]any)
		k, err = f.two.Key(p[0], p[1])
	}
	if err != nil {
		panic(err)
	}
	return k
}

// checkPair compares a's and b's keys with argsEqual, and reports
// whether they agree; sameTape says b was built from a's tape, so it must
// be equal.
func checkPair(t testing.TB, f keyFuncs, kind int, a, b any, sameTape bool) (ka string, eq, ok bool) {
	t.Helper()
	ka, kb := f.key(kind, a), f.key(kind, b)
	eq = argsEqual(a, b)
	if sameTape && !eq {
		t.Errorf("the generator built unequal values from one tape:\n%#v\n%#v", a, b)
		return ka, eq, false
	}
	if eq != (ka == kb) {
		t.Errorf("equal %v, but keys\n%q\n%q\nfor\n%#v\n%#v", eq, ka, kb, a, b)
		return ka, eq, false
	}
	return ka, eq, true
}

// keyPairs is how many pairs TestKeyProperty checks: 1,000,000 in a
// normal run, fewer under -short and the race detector.
func keyPairs() int {
	switch {
	case testing.Short():
		return 20_000
	case keysRace:
		return 100_000
	}
	return 1_000_000
}

func TestKeyProperty(t *testing.T) {
	pairs := keyPairs()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("REDCACHE_KEYS_SEED"), 10, 64); err == nil {
		seed = s // to replay a failure
	}
	t.Logf("%d pairs, seed %d", pairs, seed)
	workers := min(runtime.GOMAXPROCS(0), 4)
	var (
		mu       sync.Mutex
		equal    int
		sameKeys = map[string]any{} // one key per argument, across pairs
	)
	const remember = 100_000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := newKeyFuncs()
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			now := time.Now()
			newGen := func(tape []byte) *gen {
				return &gen{tape: tape, more: rnd, rep: rand.New(rand.NewPCG(rnd.Uint64(), 0)), now: now}
			}
			eqs := 0
			for i := w; i < pairs; i += workers {
				if t.Failed() {
					return
				}
				kind := [10]int{0, 0, 0, 0, 0, 0, 1, 2, 2, 0}[i%10] // mostly any: the cheapest
				ga := newGen(nil)
				a := ga.args(kind)
				tape := ga.tape[:ga.pos]
				var gb *gen
				switch i / 3 % 3 {
				case 0: // the same value, built in another form
					gb = newGen(tape)
				case 1: // one choice changed
					mut := append([]byte(nil), tape...)
					if len(mut) > 0 {
						mut[rnd.IntN(len(mut))] = byte(rnd.Uint32())
					}
					gb = newGen(mut)
				default: // another value
					gb = newGen(nil)
				}
				b := gb.args(kind)
				ka, eq, ok := checkPair(t, f, kind, a, b, i/3%3 == 0)
				if !ok {
					return
				}
				if eq {
					eqs++
				}
				if kind == 0 && i < remember {
					mu.Lock()
					if prev, ok := sameKeys[ka]; ok && !argsEqual(prev, a) {
						mu.Unlock()
						t.Errorf("key %q for\n%#v\nand\n%#v", ka, prev, a)
						return
					}
					sameKeys[ka] = a
					mu.Unlock()
				}
			}
			mu.Lock()
			equal += eqs
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d equal pairs, %d different; %d distinct keys among the first %d any arguments", equal, pairs-equal, len(sameKeys), remember)
	// The test only means something when both outcomes are common.
	if !t.Failed() && (equal < pairs/10 || pairs-equal < pairs/10) {
		t.Errorf("%d equal pairs of %d: the generator no longer tests both outcomes", equal, pairs)
	}
}

// FuzzKeyArguments builds two arguments from the fuzzer's tapes and
// checks that they share a key exactly when they are equal, and that
// a's tape built in another form has a's key.
func FuzzKeyArguments(f *testing.F) {
	f.Add([]byte{}, []byte{}, uint64(1), byte(0))
	f.Add([]byte{24, 2, 1, 9, 1, 1, 22}, []byte{24, 2, 1, 9, 1, 2, 22}, uint64(2), byte(0))
	f.Add([]byte{26, 3, 4, 0, 4, 1, 4, 2}, []byte{26, 3, 4, 2, 4, 1, 4, 0}, uint64(3), byte(0))
	f.Add([]byte{9, 2, 1, 2}, []byte{11, 2, 1, 2}, uint64(4), byte(0))
	f.Add([]byte{3, 1}, []byte{4, 1}, uint64(5), byte(0))
	f.Add([]byte{5, 7, 9, 11, 13}, []byte{1, 3, 5, 7}, uint64(6), byte(1))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []byte{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, uint64(7), byte(2))
	funcs := newKeyFuncs()
	now := time.Now()
	f.Fuzz(func(t *testing.T, ta, tb []byte, rep uint64, kind byte) {
		k := int(kind % 3)
		newGen := func(tape []byte, r uint64) *gen {
			return &gen{tape: tape, rep: rand.New(rand.NewPCG(rep, r)), now: now}
		}
		a := newGen(ta, 0).args(k)
		if _, _, ok := checkPair(t, funcs, k, a, newGen(tb, 1).args(k), false); ok {
			checkPair(t, funcs, k, a, newGen(ta, 2).args(k), true)
		}
	})
}

// TestArgsEqual checks the test's own definition on cases whose answer
// is known, so that a wrong definition cannot make the property pass.
func TestArgsEqual(t *testing.T) {
	at := time.Unix(100, 0)
	negZero := math.Copysign(0, -1)
	nan := map[float64]int{math.NaN(): 1, math.NaN(): 2}
	for _, tc := range []struct {
		a, b any
		want bool
	}{
		{1, 1, true},
		{1, int64(1), false},
		{userID(1), orderID(1), false},
		{0.0, negZero, false},
		{math.NaN(), math.Float64frombits(0x7ff8000000000001), true},
		{at, at.In(zoneA), true},
		{stamp(at), stamp(at.In(zoneB)), true},
		{at, stamp(at), false},
		{[]byte(nil), []byte{}, true},
		{[]byte("a"), "a", false},
		{[]any(nil), []any{}, true},
		{map[string]int(nil), map[string]int{}, true},
		{nan, map[float64]int{math.NaN(): 2, math.NaN(): 1}, true},
		{nan, map[float64]int{math.NaN(): 1, math.NaN(): 1}, false},
		{ptrKey{1, 2}, ptrKey{1, 3}, true},
		{customKey{1, 2}, customKey{2, 2}, false},
		{(*int)(nil), nil, false},
		{inner{t: at}, inner{t: at.In(zoneA)}, true},
		{inner{n: 1}, inner{n: 2}, false},
		{fmt.Sprint(1), "1", true},
	} {
		if got := argsEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("argsEqual(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
