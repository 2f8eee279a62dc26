package conn

import (
	"crypto/sha1"
	"encoding/hex"
)

// Script is a Lua script run with [Driver.Eval]. Its SHA1 digest is
// computed once, so the driver can send EVALSHA and fall back to EVAL only
// when the server has not seen the script yet.
type Script struct {
	src  string
	hash string
}

// NewScript returns a Script for the Lua source src.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, hash: hex.EncodeToString(sum[:])}
}

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// Hash returns the hex SHA1 digest of the source, as EVALSHA takes it.
func (s *Script) Hash() string { return s.hash }
