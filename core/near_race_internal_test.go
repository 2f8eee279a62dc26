//go:build race

package core

// nearRace is true under the race detector, which makes the near cache's
// replays about ten times slower: they replay fewer reads there.
const nearRace = true
