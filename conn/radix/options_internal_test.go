package radix

import (
	"testing"
	"time"
)

// WithSubscriptionCheck reads its arguments as the go-redis driver's
// option of the same name does: an interval of 0 or less turns the check
// off, a timeout of 0 or less means the default.
func TestSubscriptionCheckOption(t *testing.T) {
	const d, dt = DefaultSubscriptionInterval, DefaultSubscriptionTimeout
	cases := []struct {
		name         string
		opts         []Option
		every, after time.Duration
	}{
		{"default", nil, d, dt},
		{"both set", []Option{WithSubscriptionCheck(50*time.Millisecond, 300*time.Millisecond)}, 50 * time.Millisecond, 300 * time.Millisecond},
		{"zero interval: off", []Option{WithSubscriptionCheck(0, time.Second)}, 0, time.Second},
		{"negative interval: off", []Option{WithSubscriptionCheck(-time.Second, 0)}, 0, dt},
		{"zero timeout: default", []Option{WithSubscriptionCheck(2*time.Second, 0)}, 2 * time.Second, dt},
		{"nil option ignored", []Option{nil}, d, dt},
	}
	for _, c := range cases {
		every, after := newConfig(c.opts).subCheck()
		if every != c.every || after != c.after {
			t.Errorf("%s: interval %v timeout %v, want %v %v", c.name, every, after, c.every, c.after)
		}
	}
}
