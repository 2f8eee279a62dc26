package radix

// SetLanesPerNode sets how many commands or batches a pool lets on the
// wire at once, for the pools opened until the returned function restores
// it.
func SetLanesPerNode(n int) (restore func()) {
	old := lanesPerNode
	lanesPerNode = n
	return func() { lanesPerNode = old }
}
