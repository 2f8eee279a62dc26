//go:build !unix

package bench

import "time"

// processCPU is not measured on this system: the CPU columns show "—".
func processCPU() time.Duration { return 0 }
