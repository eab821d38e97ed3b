package admin

import (
	"net/http"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kgo"
)

// What one request that reads records holds, at most. A read never
// buffers more than one fetch while it works through another, and each is
// at most fetchCap; what it keeps of the records is at most PageBytes
// (see keep); its answer, JSON, is at most 6 times that (a control
// character is escaped as \u00XX) and is held up to 3 times while it is
// encoded.
const (
	// fetchBytes bounds a fetch of records: kgo.FetchMaxBytes and
	// kgo.FetchMaxPartitionBytes. Kafka still answers a fetch with at
	// least one batch, however large.
	fetchBytes = 1 << 20
	// fetchCap is the largest fetch answer read (kgo.BrokerMaxReadBytes):
	// a batch larger than about fetchCap-fetchBytes cannot be read, and
	// reading its partition fails with an error instead of holding it.
	fetchCap = 2 << 20
	// PageBytes bounds the bytes of keys, values and headers one answer
	// keeps of the records it lists: each of a page's limit records gets
	// PageBytes/limit of them (2.5 KiB at limit=100, 256 KiB at
	// limit=1), and a record cut to fit says "truncated": true.
	PageBytes = 256 << 10
	// readReserve is what a request that reads records takes from the
	// read budget (MaxReadBytes) for as long as it runs: two fetches, the
	// page, and its answer while it is encoded.
	readReserve = 2*fetchCap + PageBytes + 3*6*PageBytes
)

// Defaults of MaxInFlight and MaxReadBytes.
const (
	DefaultMaxInFlight  = 32       // requests
	DefaultMaxReadBytes = 64 << 20 // bytes: 7 requests that read records at once
)

// readOpts bound the fetches of a client that reads records for a
// request.
func readOpts() []kgo.Opt {
	return []kgo.Opt{kgo.FetchMaxBytes(fetchBytes), kgo.FetchMaxPartitionBytes(fetchBytes),
		kgo.BrokerMaxReadBytes(fetchCap), kgo.MaxConcurrentFetches(1)}
}

// slots bounds requests handled at once; a full one refuses at once. A
// buffered channel is Go's own counting semaphore: semaphore.Weighted, used
// for the read budget, would add nothing to slots of weight one.
type slots chan struct{}

func (s slots) take() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) give() { <-s }

// overloaded is the answer when a limit is reached, as the send routes
// answer it.
func overloaded(what string) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded,
		Message: "too many " + what + " in flight; retry later", RetryAfter: 1}
}

// reads runs next holding readReserve bytes of the read budget, or
// answers 503 at once.
func (h *Handler) reads(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.readBudget.TryAcquire(readReserve) {
			apicontract.WriteError(w, overloaded("bytes of admin reads"))
			return
		}
		defer h.readBudget.Release(readReserve)
		held := h.readHeld.Add(readReserve)
		defer h.readHeld.Add(-readReserve)
		for p := h.readPeak.Load(); held > p && !h.readPeak.CompareAndSwap(p, held); p = h.readPeak.Load() {
		}
		next(w, r)
	}
}
