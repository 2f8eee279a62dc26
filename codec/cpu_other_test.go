//go:build !unix

package codec_test

import "time"

// cpuTime is -1 where the process's CPU time is not measured.
func cpuTime() time.Duration { return -1 }
