package bench

import (
	"testing"
	"time"
)

// CPU per operation is the median of the rounds' figures, as ops/s is:
// one round spoilt by the machine's other work does not move it. With
// fewer than three rounds it is the overall figure.
func TestCPUPerOpIsTheMedianOfRounds(t *testing.T) {
	var m result
	for _, us := range []time.Duration{40, 41, 400, 39, 42} { // one spoilt round
		m.merge(result{ops: 1000, elapsed: time.Second, cpu: 1000 * us * time.Microsecond})
	}
	if got := m.cpuPerOp(); got != 41*time.Microsecond {
		t.Errorf("CPU/op = %v, want the median of the rounds, 41µs", got)
	}
	var two result
	two.merge(result{ops: 1000, elapsed: time.Second, cpu: 10 * time.Millisecond})
	two.merge(result{ops: 3000, elapsed: time.Second, cpu: 50 * time.Millisecond})
	if got := two.cpuPerOp(); got != 15*time.Microsecond {
		t.Errorf("CPU/op of two rounds = %v, want the overall figure, 15µs", got)
	}
	var none result
	none.merge(result{ops: 1000, elapsed: time.Second})
	none.merge(result{ops: 1000, elapsed: time.Second})
	none.merge(result{ops: 1000, elapsed: time.Second})
	if got := none.cpuPerOp(); got != 0 {
		t.Errorf("CPU/op unmeasured = %v, want 0", got)
	}
}
