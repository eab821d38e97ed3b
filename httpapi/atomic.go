package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/producer"
)

// AtomicSender sends a batch as one transaction: every message is
// committed, or none is visible to read_committed readers;
// *producer.Transactions implements it.
type AtomicSender interface {
	SendBatch(ctx context.Context, msgs []producer.Message) ([]producer.Result, error)
}

var _ AtomicSender = (*producer.Transactions)(nil)

// Transactions enables {"atomic": true} on /kafka/send-batch, sending
// such batches through tx. The default, nil, refuses them with 400.
func Transactions(tx AtomicSender) Option {
	return optionFunc(func(o *options) { o.transactions = tx })
}

// sendAtomic sends msgs in one transaction: 200 with every result once it
// is committed, else one error and nothing of the batch visible.
func (h *Handler) sendAtomic(ctx context.Context, w http.ResponseWriter, msgs []producer.Message) {
	results, err := h.opts.transactions.SendBatch(ctx, msgs)
	if err == nil {
		out, _ := appendResults(make([]byte, 0, 16+len(results)*96), results)
		apicontract.WriteBody(w, http.StatusOK, out)
		return
	}
	e := sendError(err)
	if errors.Is(err, producer.ErrTransactionAborted) {
		e.Message = "nothing of the batch was written (its transaction was aborted): " + e.Message
		nothingWritten(w)
	} else {
		e.Message = "the batch's transaction may or may not have been committed: " + e.Message
	}
	e.Field = ""
	apicontract.WriteError(w, e)
}
