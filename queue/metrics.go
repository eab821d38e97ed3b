package queue

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what the queue routes do. Labels are fixed sets: no
// group, topic or receipt.
type metrics struct {
	received  prometheus.Counter
	acks      *prometheus.CounterVec
	forwarded *prometheus.CounterVec
	dropped   *prometheus.CounterVec
}

// newMetrics registers the counters with reg; with no reg they count
// unseen.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kafkakit", Name: "queue_records_received_total",
			Help: "Records handed to clients by POST /kafka/queues/{group}/receive, each under a lease."}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafkakit", Name: "queue_acks_total",
			Help: "Acknowledgements settled by this replica, by outcome (accept, release, reject, renew) and result (ok, or the error code)."}, []string{"outcome", "result"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafkakit", Name: "queue_acks_forwarded_total",
			Help: "Acknowledgements forwarded to the replica holding their lease, by result (ok, unavailable)."}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafkakit", Name: "queue_records_released_unseen_total",
			Help: "Records a member fetched but released without handing them out, by reason (lease_too_short: their lock had nearly run out), each logged."}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.acks, m.forwarded, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
