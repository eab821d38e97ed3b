package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
)

// transactionPool is how many atomic batches run at once, each on its own
// transactional client.
const transactionPool = 4

// transactionalPrefix is KAFKA_TRANSACTIONAL_ID_PREFIX plus what tells
// this instance apart and stays the same across its restarts: the host
// name and the HTTP port. A restart then re-uses the ids, which fences the
// previous process and aborts its open transactions at once.
func transactionalPrefix(cfg Config) string {
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(cfg.HTTPAddr)
	return fmt.Sprintf("%s-%s-%s", cfg.TransactionalIDPrefix, host, port)
}

// startExactlyOnce starts the transactional clients of atomic batches and,
// unless HTTP_IDEMPOTENCY_TTL is 0, makes sure of the Idempotency-Key
// topic and opens the store.
func (s *server) startExactlyOnce(ctx context.Context) (stopFunc, error) {
	if !s.cfg.Kafka.Producer.Idempotent() {
		return nop, nil // atomic batches stay refused with 400
	}
	tx, err := producer.NewTransactions(s.cfg.Kafka, transactionalPrefix(s.cfg), transactionPool,
		producer.Logger(s.logger), producer.ClientOpts(s.clientOpts("transactions")...))
	if err != nil {
		return nil, err
	}
	s.tx = tx
	if s.cfg.IdempotencyTTL <= 0 {
		return func() error { tx.Close(); return nil }, nil
	}
	storeOpts := []idempotency.Option{idempotency.MaxKeys(s.cfg.IdempotencyMaxKeys), idempotency.MaxBytes(s.cfg.IdempotencyMaxBytes),
		idempotency.Logger(s.logger), idempotency.ClientOpts(s.clientOpts("idempotency")...)}
	ensured, err := s.ensureTopics(ctx, "Idempotency-Key topic", func(ctx context.Context) error {
		return idempotency.EnsureTopic(ctx, s.cfg.Kafka, s.cfg.IdempotencyTTL, storeOpts...)
	})
	if err != nil {
		tx.Close()
		return nil, err
	}
	if ensured {
		storeOpts = append(storeOpts, idempotency.TopicEnsured())
	}
	err = s.metrics.WatchIdempotency(func() idempotency.Stats {
		if idem := s.idem.Load(); idem != nil {
			return idem.Stats()
		}
		return idempotency.Stats{}
	})
	if err != nil {
		tx.Close()
		return nil, err
	}
	// Opened in the background, as the producer connects lazily: until
	// it is, requests with an Idempotency-Key are answered 503.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		lease := s.cfg.Kafka.RequestTimeout + 30*time.Second
		for bg.Err() == nil {
			octx, cancel := context.WithTimeout(bg, s.cfg.Kafka.RequestTimeout)
			idem, err := idempotency.Open(octx, s.cfg.Kafka, s.cfg.IdempotencyTTL, lease, storeOpts...)
			cancel()
			if err == nil {
				s.idem.Store(idem)
				return
			}
			s.logger.LogAttrs(bg, slog.LevelWarn, "Idempotency-Key store not open yet; retrying", logattr.Err(err))
			select {
			case <-bg.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}()
	return func() error {
		stop()
		<-done
		if idem := s.idem.Load(); idem != nil {
			idem.Close()
		}
		tx.Close()
		return nil
	}, nil
}

// atomicSender is tx as an option's value: a nil pool is no sender.
func atomicSender(tx *producer.Transactions) httpapi.AtomicSender {
	if tx == nil {
		return nil
	}
	return tx
}

// idempotencyStore is what the API asks for the Idempotency-Key store:
// nil when the feature is off, so that the header is ignored.
func (s *server) idempotencyStore() func() *idempotency.Store {
	if s.cfg.IdempotencyTTL <= 0 || !s.cfg.Kafka.Producer.Idempotent() {
		return nil
	}
	return s.idem.Load
}
