// Package owntopics makes sure that the topics kafkakit writes itself
// (dead-letter and retry topics, the Idempotency-Key topic, a replay's
// parked topic) exist with settings that keep kafkakit's promises, before
// the first record is written to them: on a cluster that does not create
// topics on first use, the first dead letter must not be the moment a
// missing topic is found.
//
// [Ensure] creates what is missing (unless config.OwnTopics.CreateTopics
// is false, when a missing topic is an [*Error]), reports each setting of
// an existing topic that breaks a promise in one WARN line (an [*Error]
// under config.OwnTopics.StrictTopics), and raises the retention of a
// topic that is kafkakit's own whoever created it. It never changes any
// other setting of a topic that exists.
package owntopics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Spec is one topic kafkakit writes and what it needs of it.
type Spec struct {
	// Name is the topic.
	Name string
	// Role says what the topic is, for log lines and errors: "dead-letter
	// topic of orders".
	Role string
	// Sources are the topics whose records are written to this one. It
	// is created with as many partitions as the source with the most.
	Sources []string
	// PartitionsWhy, when set, makes an existing topic with fewer
	// partitions than a source (with SamePartitions, another count) a
	// problem, and says what that costs, ending the problem's line. Empty,
	// the sources' count is only the one to create the topic with.
	PartitionsWhy string
	// SamePartitions asks for exactly the sources' partition count.
	SamePartitions bool
	// Partitions is the count a topic without Sources is created with;
	// -1 or 0 leaves it to the brokers' default.
	Partitions int32
	// Compacted asks for a cleanup.policy that includes compact.
	Compacted bool
	// Retention, when positive, is the least retention.ms the topic
	// needs, and the one it is created with; RetentionWhy says why.
	Retention    time.Duration
	RetentionWhy string
	// Own marks a topic that is kafkakit's whoever created it: Ensure
	// raises its retention.ms to Retention when it is shorter, if
	// creating topics is allowed.
	Own bool
}

// Error is a topic that stops start-up: missing when kafkakit may not
// create it, refused by the cluster, or breaking a promise under
// StrictTopics. Any other error of Ensure means the cluster could not be
// asked.
type Error struct {
	Topic string
	// Problem says what is wrong and what it should be.
	Problem string
	// Err is the broker's answer, if there is one.
	Err error
}

func (e *Error) Error() string {
	s := "topic " + e.Topic + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsTopicError reports whether err holds an [*Error]: an answer of the
// cluster, as opposed to a cluster that could not be reached.
func IsTopicError(err error) bool {
	_, ok := errors.AsType[*Error](err)
	return ok
}

// maxRaises bounds the rounds of raising a retention that another
// instance lowers again meanwhile (to its own, shorter, need).
const maxRaises = 3

// Ensure makes sure each spec's topic exists and fits, as the package doc
// says, using cl (whose own auto-creation setting does not matter: every
// look-up asks without it). It returns every [*Error] joined, or the
// error of a cluster that could not be asked. ctx bounds the whole.
func Ensure(ctx context.Context, cl *kgo.Client, own config.OwnTopics, logger *slog.Logger, specs ...Spec) error {
	if len(specs) == 0 {
		return nil
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
		names = append(names, s.Sources...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	meta, err := describe(ctx, cl, names)
	if err != nil {
		return fmt.Errorf("reading the metadata of %s: %w", strings.Join(names, ", "), err)
	}
	e := ensurer{adm: kadm.NewClient(cl), own: own, logger: logger, meta: meta}
	var configured []Spec // existing topics whose settings are checked
	for _, s := range specs {
		m := meta[s.Name]
		switch {
		case m.err != nil && !m.missing && !kerr.IsRetriable(m.err):
			e.errs = append(e.errs, &Error{Topic: s.Name, Problem: "cannot be described, so kafkakit cannot write to it", Err: m.err})
		case m.missing:
			if e.create(ctx, s) && (s.Compacted || s.Retention > 0) {
				configured = append(configured, s) // created meanwhile by someone else
			}
		default:
			e.checkPartitions(ctx, s)
			if s.Compacted || s.Retention > 0 {
				configured = append(configured, s)
			}
		}
	}
	if len(configured) > 0 {
		e.checkConfigs(ctx, configured)
	}
	return errors.Join(e.errs...)
}

type ensurer struct {
	adm    *kadm.Client
	own    config.OwnTopics
	logger *slog.Logger
	meta   map[string]topicMeta
	errs   []error
}

// topicMeta is what a metadata answer says of a topic. A retriable error
// (a topic being created, a leader moving) leaves it existing with its
// partitions not known; another (not authorized) is the topic's problem.
type topicMeta struct {
	missing    bool
	partitions int   // 0 when not known
	err        error // the topic's error, if any
}

// describe asks for the topics' metadata without auto-creation: a client
// asks with its configuration's, which would have the brokers create a
// topic with their defaults just as kafkakit checks it.
func describe(ctx context.Context, cl *kgo.Client, topics []string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	meta := make(map[string]topicMeta, len(topics))
	for _, t := range topics {
		meta[t] = topicMeta{missing: true}
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		err := kerr.ErrorForCode(t.ErrorCode)
		m := topicMeta{missing: errors.Is(err, kerr.UnknownTopicOrPartition), err: err}
		if err == nil {
			m.partitions = len(t.Partitions)
		}
		if _, asked := meta[*t.Topic]; asked {
			meta[*t.Topic] = m
		}
	}
	return meta, nil
}

// sourcePartitions is the most partitions of s's sources and the source
// that has them, or 0 and the first source that cannot be read.
func (e *ensurer) sourcePartitions(s Spec) (int, string) {
	most, which := 0, ""
	for _, src := range s.Sources {
		m := e.meta[src]
		if m.partitions == 0 {
			return 0, src
		}
		if m.partitions > most {
			most, which = m.partitions, src
		}
	}
	return most, which
}

// create creates s's topic, or says why not. It reports whether the
// topic exists now because someone else created it since the look-up.
func (e *ensurer) create(ctx context.Context, s Spec) bool {
	partitions := s.Partitions
	if partitions <= 0 {
		partitions = -1
	}
	shape := "the brokers' default partitions"
	if len(s.Sources) > 0 {
		n, src := e.sourcePartitions(s)
		if n == 0 {
			if !e.own.CreateTopics {
				e.errs = append(e.errs, &Error{Topic: s.Name, Problem: fmt.Sprintf(
					"the %s does not exist and KAFKA_TOPICS_CREATE is false: create it with as many partitions as %s, which does not exist yet either", s.Role, src)})
				return false
			}
			e.logger.LogAttrs(ctx, slog.LevelWarn, "the "+s.Role+" is not created: its partition count follows "+src+", which does not exist yet; on a cluster that creates topics on first use, the brokers make it with their default",
				logattr.Topic(s.Name), slog.String("source", src))
			return false
		}
		partitions = int32(n)
		shape = plural(n, "partition") + ", as " + src + " has"
	} else if partitions > 0 {
		shape = plural(int(partitions), "partition")
	}
	configs := map[string]*string{}
	if s.Compacted {
		policy := "compact"
		if s.Retention > 0 {
			policy = "compact,delete"
		}
		configs["cleanup.policy"] = &policy
	}
	if s.Retention > 0 {
		ms := strconv.FormatInt(s.Retention.Milliseconds(), 10)
		configs["retention.ms"] = &ms
	}
	settings := describeConfigs(configs)
	if !e.own.CreateTopics {
		want := shape
		if settings != "" {
			want += ", " + settings
		}
		e.errs = append(e.errs, &Error{Topic: s.Name, Problem: fmt.Sprintf(
			"the %s does not exist and KAFKA_TOPICS_CREATE is false: create it with %s", s.Role, want)})
		return false
	}
	resp, err := e.adm.CreateTopic(ctx, partitions, -1, configs, s.Name)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		return true // kadm returns the topic's error as err too
	case err != nil:
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w (%s)", err, resp.ErrMessage)
		}
		e.errs = append(e.errs, &Error{Topic: s.Name, Problem: "the cluster refused to create the " + s.Role, Err: err})
		return false
	}
	attrs := []slog.Attr{logattr.Topic(s.Name), slog.Int("partitions", int(resp.NumPartitions))}
	if settings != "" {
		attrs = append(attrs, slog.String("configs", settings))
	}
	e.logger.LogAttrs(ctx, slog.LevelInfo, "created the "+s.Role+" with "+shape, attrs...)
	return false
}

// plural is n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// describeConfigs lists configs as k=v, sorted.
func describeConfigs(configs map[string]*string) string {
	var kv []string
	for k, v := range configs {
		kv = append(kv, k+"="+*v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ", ")
}

// checkPartitions reports an existing topic with fewer partitions than a
// source (or, SamePartitions, another count).
func (e *ensurer) checkPartitions(ctx context.Context, s Spec) {
	have := e.meta[s.Name].partitions
	if len(s.Sources) == 0 || s.PartitionsWhy == "" || have == 0 {
		return
	}
	want, src := e.sourcePartitions(s)
	switch {
	case want == 0:
		return // a source not known yet: nothing to compare with
	case s.SamePartitions && have != want:
		e.problem(ctx, s, "partitions", strconv.Itoa(have), fmt.Sprintf("%d, as %s has", want, src), s.PartitionsWhy)
	case have < want:
		e.problem(ctx, s, "partitions", strconv.Itoa(have), fmt.Sprintf("at least %d, as %s has", want, src), s.PartitionsWhy)
	}
}

// checkConfigs reports the settings of existing topics that fall short,
// and raises the retention of a topic that is kafkakit's own.
func (e *ensurer) checkConfigs(ctx context.Context, specs []Spec) {
	for _, s := range specs {
		for round := 0; ; round++ {
			cfgs, err := e.configs(ctx, s.Name)
			if err != nil {
				e.report(ctx, s, "configs", "settings cannot be read, so kafkakit cannot check them: "+err.Error())
				break
			}
			if round == 0 {
				e.checkPolicy(ctx, s, cfgs)
			}
			if !e.checkRetention(ctx, s, cfgs, round) {
				break
			}
		}
	}
}

// configs returns the topic's configs by name.
func (e *ensurer) configs(ctx context.Context, topic string) (map[string]string, error) {
	rcs, err := e.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rc.Configs))
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out, nil
}

func (e *ensurer) checkPolicy(ctx context.Context, s Spec, cfgs map[string]string) {
	if policy := cfgs["cleanup.policy"]; s.Compacted && !slices.Contains(strings.Split(policy, ","), "compact") {
		e.problem(ctx, s, "cleanup.policy", policy, "compact,delete",
			"without compaction the topic keeps every record until retention, and start-up reads them all")
	}
	if s.Retention <= 0 {
		return
	}
	if b := cfgs["retention.bytes"]; b != "" && b != "-1" {
		e.problem(ctx, s, "retention.bytes", b, "-1", "a size limit deletes records before "+s.RetentionWhy+" is over")
	}
}

// checkRetention compares retention.ms with s.Retention and, for a topic
// that is kafkakit's own, raises it. It reports whether to read the
// settings again: after a raise, to see that no other instance lowered it
// meanwhile.
func (e *ensurer) checkRetention(ctx context.Context, s Spec, cfgs map[string]string, round int) bool {
	if s.Retention <= 0 {
		return false
	}
	raw := cfgs["retention.ms"]
	have, err := strconv.ParseInt(raw, 10, 64)
	want := s.Retention.Milliseconds()
	switch {
	case err != nil:
		e.problem(ctx, s, "retention.ms", strconv.Quote(raw), fmt.Sprintf("at least %d (%s)", want, s.RetentionWhy), "kafkakit cannot read it")
		return false
	case have < 0 || have >= want:
		return false // -1 keeps records for ever
	case !s.Own || !e.own.CreateTopics:
		e.problem(ctx, s, "retention.ms", raw, fmt.Sprintf("at least %d (%s)", want, s.RetentionWhy), "records are deleted before they expire")
		return false
	case round >= maxRaises:
		e.problem(ctx, s, "retention.ms", raw, fmt.Sprintf("at least %d (%s)", want, s.RetentionWhy),
			fmt.Sprintf("raised %d times and lowered again each time, by an instance that needs less", maxRaises))
		return false
	}
	ms := strconv.FormatInt(want, 10)
	resps, err := e.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &ms}}, s.Name)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resps.On(s.Name, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		e.problem(ctx, s, "retention.ms", raw, fmt.Sprintf("at least %d (%s)", want, s.RetentionWhy), "raising it failed: "+err.Error())
		return false
	}
	e.logger.LogAttrs(ctx, slog.LevelInfo, "raised the retention of the "+s.Role+" from "+raw+" ms to "+ms+" ms: "+s.RetentionWhy,
		logattr.Topic(s.Name), slog.Int64("retention_ms", want), slog.Int64("was_ms", have))
	return true
}

// problem reports a setting of an existing topic that breaks a promise:
// one WARN line, or under StrictTopics an error.
func (e *ensurer) problem(ctx context.Context, s Spec, setting, have, want, why string) {
	e.report(ctx, s, setting, fmt.Sprintf("%s is %s, should be %s: %s", setting, have, want, why))
}

// report reports the problem text, about setting, of s's topic.
func (e *ensurer) report(ctx context.Context, s Spec, setting, text string) {
	text = "the " + s.Role + "'s " + text
	if e.own.StrictTopics {
		e.errs = append(e.errs, &Error{Topic: s.Name, Problem: text + " (KAFKA_TOPICS_STRICT is true)"})
		return
	}
	e.logger.LogAttrs(ctx, slog.LevelWarn, text, logattr.Topic(s.Name), slog.String("setting", setting))
}
