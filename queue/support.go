package queue

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareAPIs are the requests a share-group member sends (KIP-932).
var shareAPIs = []int16{
	76, // ShareGroupHeartbeat
	78, // ShareFetch
	79, // ShareAcknowledge
}

// shareFeature is the cluster feature that turns share groups on.
const shareFeature = "share.version"

// recheckUnsupported is how long an answer that the cluster lacks share
// groups stands before the cluster is asked again (it may be upgraded).
const recheckUnsupported = 10 * time.Second

// support remembers whether the cluster has share groups: a yes for good,
// a no for recheckUnsupported.
type support struct {
	mu      sync.Mutex
	ok      bool
	lacks   string
	checked time.Time
}

// checkSupport answers nil when the cluster has share groups, a 501
// naming what it lacks, or a 503 when no broker answers. It asks one
// broker with ApiVersions, which every broker answers at once.
func (h *Handler) checkSupport(ctx context.Context) *apicontract.Error {
	h.support.mu.Lock()
	ok, lacks, fresh := h.support.ok, h.support.lacks, time.Since(h.support.checked) < recheckUnsupported
	h.support.mu.Unlock()
	if ok {
		return nil
	}
	if !fresh || lacks == "" {
		ctx, cancel := context.WithTimeout(ctx, h.opts.requestTimeout)
		defer cancel()
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, h.client)
		if err != nil {
			return &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeBrokerUnavailable, RetryAfter: 1,
				Message: "cannot ask the cluster whether it has share groups: " + err.Error()}
		}
		lacks = shareLacks(resp)
		h.support.mu.Lock()
		h.support.ok, h.support.lacks, h.support.checked = lacks == "", lacks, time.Now()
		h.support.mu.Unlock()
	}
	if lacks == "" {
		return nil
	}
	return &apicontract.Error{Status: http.StatusNotImplemented, Code: apicontract.CodeShareGroupsUnsupported, Message: lacks}
}

// shareLacks says what the answering broker lacks for share groups, ""
// when nothing.
func shareLacks(resp *kmsg.ApiVersionsResponse) string {
	have := map[int16]bool{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = true
	}
	for _, k := range shareAPIs {
		if !have[k] {
			return "the cluster has no share groups (KIP-932): its brokers do not answer " + kmsg.NameForKey(k) +
				"; queues need Apache Kafka 4.1 or later with the share.version feature at 1 or more"
		}
	}
	supported := false
	for _, f := range resp.SupportedFeatures {
		supported = supported || f.Name == shareFeature
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == shareFeature && f.MaxVersionLevel >= 1 {
			return ""
		}
	}
	if !supported {
		return "" // an older broker that answers the requests but lists no such feature
	}
	return "the cluster has share groups turned off: its share.version feature is 0; turn them on with " +
		"kafka-features.sh --bootstrap-server <broker> upgrade --feature share.version=1"
}
