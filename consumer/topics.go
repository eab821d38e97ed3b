package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics makes sure that the topics the consumer writes, its
// subscriptions' dead-letter and retry topics, exist before the first
// record goes there, as the configuration's OwnTopics says
// (KAFKA_TOPICS_CREATE, KAFKA_TOPICS_STRICT): a missing one is created
// with as many partitions as the topic it takes records from (a retry
// topic with exactly as many), since a dead letter or retry record keeps
// its record's partition; an existing one with fewer partitions (a retry
// topic: another count) is reported in one WARN line, or is an error when
// strict. A subscribed topic that does not exist yet leaves its topics
// uncreated, with a WARN line. Nothing is changed on a topic that exists.
//
// The error is an owntopics error naming the topic and the broker's
// reason when the cluster refused, or a topic is missing and may not be
// created; any other error means the cluster could not be asked. Run
// calls EnsureTopics first unless a call has succeeded; call it before
// Run to stop a program at start rather than when Run begins.
// Subscriptions without dead letters or retry topics need no topic, and
// no request is made for them. The requests go through a client of their
// own, with the configuration's options and ConnectionOpts (not
// ClientOpts, whose hooks are the group client's), which never has the
// brokers create a topic on first use.
func (c *Consumer) EnsureTopics(ctx context.Context) error {
	specs := c.topicSpecs()
	if len(specs) == 0 {
		c.markTopicsEnsured()
		return nil
	}
	// NewClient is serialised as the parking rebuilds' calls are.
	opts := append(slices.Clone(c.readOpts), kgo.WithLogger(kgolog.New(c.clientLogger)))
	c.newClientMu.Lock()
	cl, err := kgo.NewClient(opts...)
	c.newClientMu.Unlock()
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if err := owntopics.Ensure(ctx, cl, c.cfg.OwnTopics, c.logger, specs...); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	c.markTopicsEnsured()
	return nil
}

func (c *Consumer) markTopicsEnsured() {
	c.mu.Lock()
	c.topicsEnsured = true
	c.mu.Unlock()
}

// topicsPatience bounds how long Run asks again for a topic check the
// cluster does not answer before it joins the group anyway: a cluster
// that a ClientOpts-only credential reaches, and the check's client
// therefore not, must not keep the consumer out for ever.
const topicsPatience = time.Minute

// ensureTopicsForRun runs EnsureTopics unless a call succeeded. A cluster
// that answered no is Run's error. One that could not be asked is asked
// again, with backoff, for up to topicsPatience: the group's client is
// built only after, since its requests (a retry topic consumed, a dead
// letter sent) would have an auto-creating cluster make the topics with
// its default partitions, which break the promise the topics keep. Past
// that, Run joins without, saying so.
func (c *Consumer) ensureTopicsForRun(ctx context.Context) error {
	deadline := time.Now().Add(topicsPatience)
	for try := 1; ; try++ {
		c.mu.Lock()
		done, closed := c.topicsEnsured, c.closed
		c.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case done:
			return nil
		}
		err := c.EnsureTopics(ctx)
		switch {
		case err == nil:
			return nil
		case owntopics.IsTopicError(err):
			return err
		case ctx.Err() != nil:
			return nil
		}
		c.setErr(err)
		if time.Now().After(deadline) {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "cannot check the dead-letter and retry topics; joining the group without: a cluster that creates topics on first use makes them with its default partitions", logattr.Err(err))
			return nil
		}
		if try == 1 {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "cannot check the dead-letter and retry topics; asking again, for up to "+topicsPatience.String()+", before joining the group", logattr.Err(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Exponential(c.cfg.RetryBackoff, 5*time.Second, try)):
		}
	}
}

// topicSpecs are the dead-letter and retry topics of the subscriptions,
// each once, with every subscribed topic it takes records from.
func (c *Consumer) topicSpecs() []owntopics.Spec {
	c.mu.Lock()
	subs := slices.Collect(maps.Values(c.subs))
	c.mu.Unlock()
	specs := map[string]*owntopics.Spec{}
	add := func(name, source string, retry bool) {
		s := specs[name]
		if s == nil {
			s = &owntopics.Spec{Name: name}
			specs[name] = s
		}
		if !slices.Contains(s.Sources, source) {
			s.Sources = append(s.Sources, source)
		}
		s.SamePartitions = s.SamePartitions || retry
	}
	for _, sub := range subs {
		for _, st := range sub.stages {
			if dl, ok := st.(deadLetterStage); ok {
				add(dl.topic, sub.topic, false)
			}
		}
		for _, rt := range retryTopicNames(sub.stages) {
			add(rt, sub.topic, true)
		}
	}
	out := make([]owntopics.Spec, 0, len(specs))
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		s := specs[name]
		slices.Sort(s.Sources)
		sources := strings.Join(s.Sources, ", ")
		if s.SamePartitions {
			s.Role = "retry topic of " + sources
			s.PartitionsWhy = "key order through retry topics needs partition p of a topic and of its retry topics on the same member (the range assigner), and a retry record keeps its partition"
		} else {
			s.Role = "dead-letter topic of " + sources
			s.PartitionsWhy = deadLetterPartitionsWhy
		}
		out = append(out, *s)
	}
	return out
}

// deadLetterPartitionsWhy is what a dead-letter topic with fewer
// partitions than its source costs.
const deadLetterPartitionsWhy = "a dead letter keeps its record's partition only where the dead-letter topic has it; the others go to the partition their key picks"
