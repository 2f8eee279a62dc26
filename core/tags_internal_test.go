package core

import (
	"slices"
	"testing"

	"github.com/redcache/redcache/conn"
)

func TestTagKey(t *testing.T) {
	tests := []struct{ prefix, tag, want string }{
		{"cache", "table:users", "cache::tag:table:users"},
		{"cache", "{slot}", `cache::tag:\(slot\)`},
		{"cache", `a\b`, `cache::tag:a\\b`},
		{"{shop}", "path:/x/", "{shop}::tag:path:/x/"},
	}
	for _, tt := range tests {
		if got := tagKey(tt.prefix, tt.tag); got != tt.want {
			t.Errorf("tagKey(%q, %q) = %q; want %q", tt.prefix, tt.tag, got, tt.want)
		}
	}
	// Escaping keeps tags apart.
	if tagKey("p", `\(`) == tagKey("p", "{") {
		t.Error(`the tags "\(" and "{" share a key`)
	}
}

func TestNormalizeTags(t *testing.T) {
	in := []string{"b", "", "a", "b"}
	got := normalizeTags(in)
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("normalizeTags = %q; want %q", got, want)
	}
	if !slices.Equal(in, []string{"b", "", "a", "b"}) {
		t.Fatalf("normalizeTags changed its argument: %q", in)
	}
	if got := normalizeTags([]string{""}); got != nil {
		t.Fatalf("normalizeTags of empty tags = %q; want nil", got)
	}
}

// A Manager's tags do not share a slice with its functions' or its calls'.
func TestWithTagsDoesNotAlias(t *testing.T) {
	m := New(WithTags("m1", "m2"))
	a := newEngine[int](m, "a", []Option{WithTags("a")})
	b := newEngine[int](m, "b", []Option{WithTags("b")})
	key := func(ts *tagSet) []string {
		var ks []string
		for _, r := range ts.refs {
			ks = append(ks, r.key)
		}
		return ks
	}
	if got, want := key(a.tags), []string{"cache::tag:a", "cache::tag:m1", "cache::tag:m2"}; !slices.Equal(got, want) {
		t.Errorf("a's tags = %q; want %q", got, want)
	}
	if got, want := key(b.tags), []string{"cache::tag:b", "cache::tag:m1", "cache::tag:m2"}; !slices.Equal(got, want) {
		t.Errorf("b's tags = %q; want %q", got, want)
	}
	cc := callOptions([]CallOption{Tags("c", "a")})
	if got, want := key(a.tagsFor(&cc)), []string{"cache::tag:a", "cache::tag:c", "cache::tag:m1", "cache::tag:m2"}; !slices.Equal(got, want) {
		t.Errorf("a call's tags = %q; want %q", got, want)
	}
	if got := key(a.tags); len(got) != 3 {
		t.Errorf("a call changed the function's tags: %q", got)
	}
}

// A driver the Manager forgets leaves no tag state behind.
func TestForgetDriverReleasesTags(t *testing.T) {
	m := New()
	// Only the driver's identity matters here: no call reaches it.
	d := &struct{ conn.Driver }{}
	r := m.tagRef("cache", "x", 1, false)
	r.gens.of(d).adopt(7, 1)
	m.forgetDriver(d)
	if got := r.gens.of(d).gen.Load(); got != 0 {
		t.Fatalf("after forgetDriver the tag's generation on d is %d; want a fresh state", got)
	}
}

// Two tag sets whose generations are equal still give a value different
// generations: an entry written with one set is a miss for the other.
func TestTagSetsDoNotCollide(t *testing.T) {
	m := New()
	d := &struct{ conn.Driver }{}
	var st genState
	st.adopt(5, 1)
	a, b := m.tagRefs("cache", []string{"a"}, 1, false), m.tagRefs("cache", []string{"b"}, 1, false)
	a.refs[0].gens.of(d).adopt(1000, 1)
	b.refs[0].gens.of(d).adopt(1000, 1)
	if knownGeneration(d, &st, a) == knownGeneration(d, &st, b) {
		t.Fatal("tags a and b with equal generations give one value generation")
	}
	if knownGeneration(d, &st, nil) != 5 {
		t.Fatal("a value without tags does not have its function's generation")
	}
	before := knownGeneration(d, &st, a)
	a.refs[0].gens.of(d).adopt(1001, 2)
	if knownGeneration(d, &st, a) == before {
		t.Fatal("a bumped tag left the value's generation unchanged")
	}
}

// Two Tags options add up, and neither changes what the other holds,
// even when the first was given a slice with room to spare.
func TestTagsOptionsAddUp(t *testing.T) {
	room := make([]string, 1, 8)
	room[0] = "a"
	first, second := Tags(room...), Tags("b")
	for range 2 {
		cc := callOptions([]CallOption{first, second, Tags("c")})
		if !slices.Equal(cc.tags, []string{"a", "b", "c"}) {
			t.Fatalf("tags = %q; want a, b, c", cc.tags)
		}
	}
	if got := room[:2]; got[1] != "" {
		t.Fatalf("Tags wrote into its argument's spare room: %q", got)
	}
}

// A call's tag set is resolved once, then found again for calls with the
// same tags.
func TestTagSetCache(t *testing.T) {
	m := New()
	e := newEngine[int](m, "cached", []Option{WithTags("f")})
	cc := callOptions([]CallOption{Tags("x", "y")})
	a := e.tagsFor(&cc)
	if b := e.tagsFor(&cc); a != b {
		t.Fatal("the same call tags resolved to two tag sets")
	}
	other := callOptions([]CallOption{Tags("x")})
	if c := e.tagsFor(&other); c == a || len(c.refs) != 2 {
		t.Fatalf("other call tags share a tag set, or lost the function's tag: %v", c.refs)
	}
	if allocs := testing.AllocsPerRun(100, func() { e.tagsFor(&cc) }); allocs != 0 {
		t.Fatalf("resolving known call tags allocates %v times; want 0", allocs)
	}
}

// A process that knows one tag's new generation and another's old one
// never computes the generation of an entry written by a process with
// the opposite knowledge (the tag soak found this of a plain sum).
func TestTagGenerationsDoNotMask(t *testing.T) {
	m := New()
	d1, d2 := &struct{ conn.Driver }{}, &struct{ conn.Driver }{}
	var st genState
	st.adopt(5, 1)
	set := m.tagRefs("cache", []string{"all", "key"}, 1, false)
	// d1 stands for the writer's knowledge, d2 for the reader's.
	set.refs[0].gens.of(d1).adopt(101, 1) // all: new
	set.refs[1].gens.of(d1).adopt(200, 1) // key: old
	set.refs[0].gens.of(d2).adopt(100, 1) // all: old
	set.refs[1].gens.of(d2).adopt(201, 1) // key: new
	var st2 genState
	st2.adopt(5, 1)
	if knownGeneration(d1, &st, set) == knownGeneration(d2, &st2, set) {
		t.Fatal("(all 101, key 200) and (all 100, key 201) give one value generation")
	}
}
