package goredis

// SetLanesPerNode sets how many commands or batches may be on the wire at
// once per node for the drivers built afterwards, and returns a function
// that restores the default. For benchmarks only.
func SetLanesPerNode(n int) (restore func()) {
	old := lanesPerNode
	lanesPerNode = n
	return func() { lanesPerNode = old }
}
