package httpapi

// StreamPeak is the most records one stream has held handed over and not
// yet answered.
func (h *Handler) StreamPeak() int64 { return h.streamPeak.Load() }
