//go:build race

package core_test

// keysRace is true under the race detector, which makes the key property
// test about ten times slower: it checks fewer pairs there.
const keysRace = true
