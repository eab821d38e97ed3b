package backoff

import (
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	tests := []struct {
		first, max time.Duration
		retry      int
		want       time.Duration // before jitter
	}{
		{100 * time.Millisecond, time.Second, 1, 100 * time.Millisecond},
		{100 * time.Millisecond, time.Second, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, time.Second, 4, 800 * time.Millisecond},
		{100 * time.Millisecond, time.Second, 5, time.Second},
		{100 * time.Millisecond, time.Second, 500, time.Second},
		{0, time.Second, 3, 0},
	}
	for _, tt := range tests {
		for range 50 {
			got := Exponential(tt.first, tt.max, tt.retry)
			lo, hi := time.Duration(float64(tt.want)*(1-Jitter)), time.Duration(float64(tt.want)*(1+Jitter))
			if got < lo || got > hi {
				t.Fatalf("Exponential(%v, %v, %d) = %v, want within [%v, %v]", tt.first, tt.max, tt.retry, got, lo, hi)
			}
		}
	}
}
