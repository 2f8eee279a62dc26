package cli

import "regexp"

// flagNameRE matches a flag name as package flag writes it in its errors:
// one dash, after the start, a space or a colon.
var flagNameRE = regexp.MustCompile(`(^|[\s:])-([A-Za-z][A-Za-z0-9_.-]*)`)

// FlagError rewrites the "-name" of package flag's error messages ("flag
// provided but not defined: -limit") as "--name", the spelling the
// commands' help uses, so that a flag reads the same in both.
func FlagError(msg string) string {
	return flagNameRE.ReplaceAllString(msg, "$1--$2")
}
