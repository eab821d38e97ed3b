package admin

import (
	"net/http"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/consumer"
)

// Consumers sets what GET /kafka/consumers reports: each of this
// instance's consumers, its group, assigned partitions, committed
// offsets, high watermarks, lag and last error. The default reports none.
func Consumers(status func() []consumer.Status) Option {
	return optionFunc(func(o *options) { o.consumers = status })
}

// consumers answers GET /kafka/consumers: this instance's consumers, as
// /kafka/groups answers for every group of the cluster.
func (h *Handler) consumers(w http.ResponseWriter, _ *http.Request) {
	statuses := []consumer.Status{}
	if h.opts.consumers != nil {
		statuses = append(statuses, h.opts.consumers()...)
	}
	apicontract.WriteJSON(w, http.StatusOK, map[string]any{"consumers": statuses})
}
