// Package backoff computes jittered exponential pauses between retries.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter is the fraction by which a pause is randomly shortened or
// lengthened, so that clients failing together do not retry together.
const Jitter = 0.2

// Exponential returns the pause before retry number retry (1 for the first
// retry): first doubled retry-1 times, capped at max, then moved by up to
// ±20%. A non-positive first yields 0.
func Exponential(first, max time.Duration, retry int) time.Duration {
	if first <= 0 {
		return 0
	}
	d := first
	for i := 1; i < retry && d < max; i++ {
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	spread := float64(d) * Jitter
	return d + time.Duration(spread*(2*rand.Float64()-1))
}
