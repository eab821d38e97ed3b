package admin

// ReadBudget returns the most bytes the requests reading records held at
// once, by the read budget's count, and the budget's size.
func ReadBudget(h *Handler) (peak, size int64) {
	return h.readPeak.Load(), h.readMax
}

// ReadReserve is what one request reading records takes of the budget.
const ReadReserve = readReserve

// Cause is a dead letter's failure in words.
var Cause = cause
