//go:build !race

package core

const nearRace = false
