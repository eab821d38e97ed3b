package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrShareGroupsUnsupported is wrapped by the error of a cluster that
// cannot run share groups (KIP-932): brokers older than Apache Kafka 4.2,
// or a cluster whose share.version feature is off. The error's text
// names what the cluster lacks.
var ErrShareGroupsUnsupported = errors.New("the cluster does not support share groups (KIP-932)")

// The API keys share consumption needs, and the ShareAcknowledge version
// that renews a held record's lock (KIP-1222, Apache Kafka 4.2).
const (
	keyShareGroupHeartbeat = 76
	keyShareFetch          = 78
	keyShareAcknowledge    = 79
	renewAckVersion        = 2
)

// CheckShareGroups asks a broker of cl's cluster whether it can run
// share groups as [ShareConsumer] uses them: the share APIs, lock renewal
// (ShareAcknowledge version 2) and the share.version feature finalized
// at 1 or more. It returns nil, an error wrapping
// [ErrShareGroupsUnsupported] that names what is missing, or the error
// of a cluster that could not be asked. It makes one ApiVersions request.
func CheckShareGroups(ctx context.Context, cl *kgo.Client) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "kafkakit"
	req.ClientSoftwareVersion = "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("consumer: ask the brokers for their APIs: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("consumer: ask the brokers for their APIs: %w", err)
	}
	if why := shareSupportGap(resp); why != "" {
		return fmt.Errorf("%w: %s", ErrShareGroupsUnsupported, why)
	}
	return nil
}

// shareSupportGap says what resp's broker lacks for share groups, or "".
func shareSupportGap(resp *kmsg.ApiVersionsResponse) string {
	keys := make(map[int16]int16, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		keys[k.ApiKey] = k.MaxVersion
	}
	for _, k := range []int16{keyShareGroupHeartbeat, keyShareFetch, keyShareAcknowledge} {
		if _, ok := keys[k]; !ok {
			return "the brokers offer no " + kmsg.NameForKey(k) + " API; share groups need Apache Kafka 4.2 or later"
		}
	}
	if v := keys[keyShareAcknowledge]; v < renewAckVersion {
		return "the brokers' ShareAcknowledge goes up to version " + strconv.Itoa(int(v)) +
			", which cannot renew a held record's lock (KIP-1222); Apache Kafka 4.2 or later is needed"
	}
	knows := false
	for _, f := range resp.SupportedFeatures {
		knows = knows || f.Name == "share.version"
	}
	if !knows {
		return "" // a broker without feature levels for share groups: the APIs decide
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "share.version" && f.MaxVersionLevel >= 1 {
			return ""
		}
	}
	return "the cluster's share.version feature is 0 (off); turn it on with kafka-features.sh upgrade --feature share.version=1"
}

// shareGroupConfig returns the value of the share group's config name:
// the group's own, or else the brokers' cluster-wide group.<name>, or ""
// when neither is told. Apache Kafka answers a group's config with the
// brokers' default when the group has none.
func shareGroupConfig(ctx context.Context, cl *kgo.Client, group, name string) (string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ        kmsg.ConfigResourceType
		name, conf string
	}{{kmsg.ConfigResourceTypeGroupConfig, group, name}, {kmsg.ConfigResourceTypeBroker, "", "group." + name}} {
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = r.typ, r.name, []string{r.conf}
		req.Resources = append(req.Resources, res)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	values := map[kmsg.ConfigResourceType]string{}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			if r.ResourceType == kmsg.ConfigResourceTypeBroker {
				continue // the group's answer is the one that counts
			}
			return "", err
		}
		for _, c := range r.Configs {
			if c.Value != nil && *c.Value != "" && (c.Name == name || c.Name == "group."+name) {
				values[r.ResourceType] = *c.Value
			}
		}
	}
	if v, ok := values[kmsg.ConfigResourceTypeGroupConfig]; ok {
		return v, nil
	}
	return values[kmsg.ConfigResourceTypeBroker], nil
}

// setShareGroupConfig sets the share group's config name to value.
func setShareGroupConfig(ctx context.Context, cl *kgo.Client, group, name, value string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	res.ResourceName = group
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			if r.ErrorMessage != nil {
				return fmt.Errorf("%w: %s", err, *r.ErrorMessage)
			}
			return err
		}
	}
	return nil
}
