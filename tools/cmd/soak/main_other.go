//go:build !unix

// Command soak is redcache's consistency soak; it kills and restarts
// redis-server processes with Unix signals, so it runs on Unix only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "soak: runs on Unix only")
	os.Exit(2)
}
