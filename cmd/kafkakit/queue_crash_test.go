package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQueueReplicaKilledLosesNothing runs three `kafkakit serve` replicas
// sharing a receipt secret, with pull clients that send each receive and
// each acknowledgement to a random live replica, and kills one replica with
// SIGKILL mid-run. Every record is accepted in the end: those the killed
// replica held come back when their locks run out. No record is accepted
// twice. 20,000 records with KAFKAKIT_QUEUE_LOAD=1, else 2,000.
func TestQueueReplicaKilledLosesNothing(t *testing.T) {
	const topic, group = "jobs", "workers"
	n := 2000
	if os.Getenv("KAFKAKIT_QUEUE_LOAD") == "1" {
		n = 20_000
	}
	c := newQueueCluster(t, topic, group, n)
	procs, bases := startQueueReplicas(t, c, 3)

	p := &queuePuller{group: group, topic: topic, alive: bases, accepted: map[string]int{}, unknown: map[string]bool{}}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	killAt := n/4 + rand.New(rand.NewPCG(uint64(seed), 0)).IntN(n/2)
	stop := p.start(seed, 6)
	defer stop()
	kafkatest.WaitFor(t, 5*time.Minute, func() error {
		if got := p.count(); got < killAt {
			return fmt.Errorf("accepted %d of %d, killing a replica at %d", got, n, killAt)
		}
		return nil
	})
	p.kill(bases[0])
	if err := procs[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-procs[0].done
	t.Logf("killed the replica at %s after %d records accepted", bases[0], p.count())
	kafkatest.WaitFor(t, 5*time.Minute, func() error {
		if got := p.settled(n); got < n {
			return fmt.Errorf("%d of %d records accepted or acknowledged without an answer", got, n)
		}
		return nil
	})
	// The records whose accept lost its answer were settled by the killed
	// replica or come back and are accepted now: either way, the group's
	// start offset reaches the end of the partition. Apache Kafka reports
	// the start offset its share coordinator last wrote, which lags (it
	// read 0 after every record of a partition was accepted), so this is
	// checked on kfake only.
	if !kafkatest.External() {
		waitStartOffset(t, c, group, topic, int64(n))
	}
	p.check(t, n)
}

// newQueueCluster is a cluster whose one-partition topic holds the values
// 0 to n-1, read by share group group with 3s record locks, so that the
// records a killed replica held come back within the test's waits.
func newQueueCluster(t *testing.T, topic, group string, n int) *kafkatest.Cluster {
	t.Helper()
	const lockMS = 3000
	c := kafkatest.NewCluster(t, kafkatest.Topic(topic, 1))
	if !kafkatest.External() {
		alterConfigs(t, c, kmsg.ConfigResourceTypeBroker, "", map[string]string{
			"group.share.record.lock.duration.ms": strconv.Itoa(lockMS), "share.record.lock.sweep.interval.ms": "100"})
	}
	alterConfigs(t, c, kmsg.ConfigResourceTypeGroupConfig, group, map[string]string{
		"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": strconv.Itoa(lockMS)})
	for start := 0; start < n; start += 1000 {
		var recs []*kgo.Record
		for i := start; i < min(n, start+1000); i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
		}
		c.Produce(t, recs...)
	}
	return c
}

// startQueueReplicas starts count `serve` replicas of c sharing a receipt
// secret and returns them with their base URLs once each answers /healthz.
func startQueueReplicas(t *testing.T, c *kafkatest.Cluster, count int) ([]*process, []string) {
	t.Helper()
	var procs []*process
	var bases []string
	for range count {
		addr := freeAddr(t)
		procs = append(procs, startProcess(t, []string{"KAFKA_BROKERS=" + c.Addrs()[0], "HTTP_ADDR=" + addr,
			"HTTP_QUEUE_SECRET=the replicas' shared secret", "HTTP_ADVERTISED_URL=http://" + addr, "LOG_LEVEL=warn"}, "serve"))
		bases = append(bases, "http://"+addr)
	}
	for _, b := range bases {
		kafkatest.WaitFor(t, 60*time.Second, func() error {
			resp, err := http.Get(b + "/healthz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		})
	}
	return procs, bases
}

// queuePuller is a set of pull clients of one group, behind a balancer
// that sends each call to a random live replica.
type queuePuller struct {
	group, topic string

	mu       sync.Mutex
	alive    []string
	accepted map[string]int  // value -> accepts answered ok
	unknown  map[string]bool // an accept sent, its answer lost with a replica
	calls    int
	worst    int // the highest delivery count seen
}

func (p *queuePuller) pick(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return p.alive[rng.IntN(len(p.alive))]
}

// start runs clients pull clients, each with its own random stream drawn
// from seed, until the returned stop is called; stop waits for them.
func (p *queuePuller) start(seed int64, clients int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i+1)))
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					p.once(rng)
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// kill takes base out of the balancer.
func (p *queuePuller) kill(base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.alive {
		if b == base {
			p.alive = append(p.alive[:i:i], p.alive[i+1:]...)
			return
		}
	}
}

func (p *queuePuller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted)
}

// settled counts the records 0..n-1 accepted, or with an accept whose
// answer was lost with the killed replica (it may have been applied).
func (p *queuePuller) settled(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := 0
	for i := range n {
		v := strconv.Itoa(i)
		if p.accepted[v] > 0 || p.unknown[v] {
			k++
		}
	}
	return k
}

// waitStartOffset waits until group's start offset on partition 0 of
// topic reaches end.
func waitStartOffset(t *testing.T, c *kafkatest.Cluster, group, topic string, end int64) {
	t.Helper()
	adm := kadm.NewClient(c.Client(t))
	kafkatest.WaitFor(t, 2*time.Minute, func() error {
		offsets, err := adm.DescribeShareGroupOffsets(t.Context(), group)
		if err == nil {
			err = offsets.Error()
		}
		if err != nil {
			return err
		}
		if start := offsets[group].Offsets[topic][0].StartOffset; start < end {
			return fmt.Errorf("the group's start offset is %d of %d", start, end)
		}
		return nil
	})
}

// maxDeliveries is Kafka's default group.share.delivery.count.limit: a
// record delivered this often without being settled is archived, lost to
// the test.
const maxDeliveries = 5

type queueRec struct {
	Value         json.RawMessage `json:"value"`
	DeliveryCount int             `json:"delivery_count"`
	Receipt       string          `json:"receipt"`
}

// once receives through one random replica and accepts through another.
func (p *queuePuller) once(rng *rand.Rand) {
	var got struct{ Records []queueRec }
	if queuePost(p.pick(rng)+"/kafka/queues/"+p.group+"/receive", `{"topics":["`+p.topic+`"],"max":50,"wait_ms":300}`, &got) != nil || len(got.Records) == 0 {
		return
	}
	type item struct {
		Receipt string `json:"receipt"`
		Outcome string `json:"outcome"`
	}
	var body struct {
		Acks []item `json:"acks"`
	}
	for _, r := range got.Records {
		body.Acks = append(body.Acks, item{r.Receipt, "accept"})
	}
	b, _ := json.Marshal(body)
	var res struct {
		Results []struct {
			OK    bool
			Error *struct{ Code string }
		}
	}
	err := queuePost(p.pick(rng)+"/kafka/queues/"+p.group+"/ack", string(b), &res)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range got.Records {
		v := string(bytes.Trim(r.Value, `"`))
		p.worst = max(p.worst, r.DeliveryCount)
		switch {
		case err != nil || len(res.Results) != len(got.Records):
			p.unknown[v] = true
		case res.Results[i].OK:
			p.accepted[v]++
		case res.Results[i].Error != nil && res.Results[i].Error.Code == "holder_unavailable":
			p.unknown[v] = true // the holder may have died after settling it
		}
	}
}

// check fails the test unless every record was accepted or had an accept
// lost with the killed replica, and none was accepted twice.
func (p *queuePuller) check(t *testing.T, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lost, unknown := 0, 0
	for i := range n {
		v := strconv.Itoa(i)
		switch k := p.accepted[v]; {
		case k > 1:
			t.Errorf("record %s accepted %d times", v, k)
		case k == 0 && !p.unknown[v]:
			lost++
		case k == 0:
			unknown++
		}
	}
	if lost > 0 {
		t.Errorf("%d records never accepted", lost)
	}
	if p.worst >= maxDeliveries {
		t.Errorf("a record was delivered %d times: at the limit, the broker archives it unsettled", p.worst)
	}
	t.Logf("%d records: %d accepted with an answer, %d by calls whose answer was lost with the killed replica; %d calls; at most %d deliveries of one record",
		n, n-unknown-lost, unknown, p.calls, p.worst)
}

// queuePost posts body to url and decodes a 2xx or 4xx answer into v.
func queuePost(url, body string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// alterConfigs sets configs of one resource, failing the test on error.
func alterConfigs(t *testing.T, c *kafkatest.Cluster, typ kmsg.ConfigResourceType, name string, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	for k, v := range configs {
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = k, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, rc)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(t.Context(), c.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 0 {
			t.Fatalf("alter configs of %q: error %d", name, r.ErrorCode)
		}
	}
}
