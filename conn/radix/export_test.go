package radix

// SetLanesPerNode sets how many commands or batches a pool lets on the
// wire at once, for the pools opened until the returned function restores
// it.
func SetLanesPerNode(n int) (restore func()) {
	old := lanesPerNode
	lanesPerNode = n
	return func() { lanesPerNode = old }
}

// LaneStats returns how many batches d's pool (a single server's) sent,
// and the commands they carried; 0, 0 without auto-pipelining.
func LaneStats(d *Driver) (batches, carried int64) {
	if p, ok := d.client.(*pool); ok && p.lane != nil {
		return p.lane.batches.Load(), p.lane.carried.Load()
	}
	return 0, 0
}
