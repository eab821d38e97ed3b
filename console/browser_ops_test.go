//go:build browser

package console_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readAndStop reads n records of topic as group, commits, and leaves
// the group: a consumer stopped after catching up.
func readAndStop(t *testing.T, c *kafkatest.Cluster, group, topic string, n int) {
	t.Helper()
	cl := c.Client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	defer cl.Close() // leaves the group
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records in 30s", got, n)
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserOperatesTopicsAndGroups: with the token, an operator creates
// a topic from the console (previewed first), sends to it from the
// produce form, resets a stopped group to a time (the dry run shows what
// it would read again, the reset makes its lag grow by that), and
// deletes the topic by typing its name, a wrong name being shown as an
// error. Every control that changes something says it needs the admin
// scope, and the group's name, markup included, is shown as text.
func TestBrowserOperatesTopicsAndGroups(t *testing.T) {
	c := kafkatest.NewCluster(t)
	prod, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	base := serveWithAPI(t, c, httpapi.New(prod, httpapi.AuthToken("let-me-in")), admin.AuthToken("let-me-in"))
	p := page{t, browser(t)}
	p.step("sign in on the topics", inZone("UTC"), chromedp.Navigate(base+"/console#/topics"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`), chromedp.WaitVisible("#create-topic"))
	p.step("preview the topic", chromedp.SendKeys(`#create-topic input[name="name"]`, "ops.orders"),
		chromedp.SetValue(`#create-topic input[name="partitions"]`, "2"),
		chromedp.SendKeys(`#create-topic textarea[name="configs"]`, "retention.ms=86400000"),
		chromedp.Click("#create-preview"), chromedp.WaitVisible("#create-summary"))
	if got := p.text("#create-summary"); !strings.HasPrefix(got, "Would create topic ops.orders with 2 partitions") || !strings.Contains(got, "retention.ms=86400000") {
		t.Errorf("the preview says %q", got)
	}
	if topicExists(t, c, "ops.orders") {
		t.Fatal("the preview created the topic")
	}
	p.step("create it", chromedp.Click("#create-confirm"), chromedp.WaitVisible("#create-done a"))
	if !topicExists(t, c, "ops.orders") {
		t.Fatal("the topic was not created")
	}

	// Three records an hour old in partition 0, then one sent from the
	// form and one more, new, in partition 1.
	old := time.Now().Add(-2 * time.Hour)
	for range 3 {
		c.Produce(t, &kgo.Record{Topic: "ops.orders", Partition: 0, Value: []byte("old"), Timestamp: old})
	}
	p.step("open it", chromedp.Click("#create-done a"), chromedp.WaitVisible("#produce"), chromedp.WaitVisible("#topic-actions"))
	p.step("send from the form", chromedp.SendKeys(`#produce textarea[name="value"]`, `{"order":1}`),
		chromedp.SetValue(`#produce select[name="partition"]`, "1"), chromedp.Click(`#produce button[type="submit"]`),
		chromedp.Poll[chromedp.Void](`document.getElementById("produce-result").textContent.startsWith("Sent")`))
	if got := p.text("#produce-result"); got != "Sent to partition 1 at offset 0." {
		t.Fatalf("the form says %q", got)
	}
	c.Produce(t, &kgo.Record{Topic: "ops.orders", Partition: 1, Value: []byte("new")})
	if !eval[bool](t, p, `Array.from(document.querySelectorAll("#topic-actions form, #topic-actions button")).every((b) => b.dataset.scope === "admin")`) {
		t.Error("a control of the topic's actions lacks data-scope=admin")
	}

	const group = `ops.readers <i>x</i>`
	readAndStop(t, c, group, "ops.orders", 5)
	resetToATime(t, p, group, old.Add(time.Hour))
	deleteTheTopic(t, p, c)
}

// resetToATime resets the stopped group, all caught up, to a time
// between the old records and the new, through the console.
func resetToATime(t *testing.T, p page, group string, at time.Time) {
	t.Helper()
	p.step("open the group", goTo("#/groups/"+url.PathEscape(group)), chromedp.WaitVisible("#reset-group"),
		chromedp.Poll[chromedp.Void](`document.getElementById("group-lag").textContent === "0"`))
	if got := eval[string](t, p, `document.querySelector("#view h2").textContent`); got != group {
		t.Errorf("the group's heading is %q, want %q as text", got, group)
	}
	if eval[bool](t, p, `document.querySelector("#view i") !== null`) {
		t.Error("the group's name was read as markup")
	}
	p.step("choose a time", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#reset-group select[name="kind"]');
		s.value = "time"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.SetValue(`#reset-group input[name="value"]`, at.UTC().Format("2006-01-02T15:04:05")),
		chromedp.Click("#reset-preview"), chromedp.WaitVisible("#reset-summary"))
	if got := p.text("#reset-summary"); got != "A reset would move 2 partitions: 0 records skipped, 2 read again." {
		t.Errorf("the dry run says %q", got)
	}
	if got := p.text("#group-lag"); got != "0" {
		t.Errorf("the dry run changed the lag to %s", got)
	}
	p.step("reset", chromedp.Click("#reset-confirm"), chromedp.WaitVisible("#reset-done"),
		chromedp.Poll[chromedp.Void](`document.getElementById("group-lag").textContent === "2"`))
	if !eval[bool](t, p, `Array.from(document.querySelectorAll("#group-actions form, #group-actions button")).every((b) => b.dataset.scope === "admin")`) {
		t.Error("a control of the group's actions lacks data-scope=admin")
	}
	screenshot(t, p.ctx, "reset")
}

// deleteTheTopic deletes ops.orders from its page: a wrong name first,
// shown as an error, then its name.
func deleteTheTopic(t *testing.T, p page, c *kafkatest.Cluster) {
	t.Helper()
	p.step("open the topic", goTo("#/topics/ops.orders"), chromedp.WaitVisible("#delete-topic"))
	p.step("type a wrong name", chromedp.SendKeys(`#delete-topic input[name="confirm"]`, "ops.order"),
		chromedp.Click("#delete-confirm"), chromedp.WaitVisible("#delete-result .error"))
	if got := p.text("#delete-result .error"); !strings.Contains(got, "confirm") || !strings.Contains(got, "(400)") {
		t.Errorf("the wrong name reads %q", got)
	}
	if !topicExists(t, c, "ops.orders") {
		t.Fatal("a wrong name deleted the topic")
	}
	p.step("type its name", chromedp.SendKeys(`#delete-topic input[name="confirm"]`, "s"),
		chromedp.Click("#delete-confirm"), chromedp.WaitVisible("#delete-done"))
	screenshot(t, p.ctx, "deleted")
	if got := p.text("#delete-done"); !strings.HasPrefix(got, "Deleted ops.orders (2 partitions, 5 messages)") {
		t.Errorf("the delete says %q", got)
	}
	// Apache Kafka deletes in the background of its answer.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for topicExists(t, c, "ops.orders") {
		select {
		case <-ctx.Done():
			t.Fatal("the topic is still there after 30s")
		case <-tick.C:
		}
	}
}

// goTo opens another view of the page: only the address's fragment
// changes, which loads nothing for chromedp.Navigate to wait for.
func goTo(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void]("location.hash = " + strconv.Quote(hash))
}

// topicExists asks the cluster whether it has topic.
func topicExists(t *testing.T, c *kafkatest.Cluster, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cl := c.Client(t)
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := topics[topic]
	return ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition)
}

// TestBrowserResetRefusedWhileMembers: a reset previewed while the group
// has a member is shown as the API's error, naming the member, and
// changes nothing.
func TestBrowserResetRefusedWhileMembers(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.live", 1))
	c.Produce(t, &kgo.Record{Topic: "ops.live", Value: []byte("x")})
	busy := c.Client(t, kgo.ConsumerGroup("ops.live-readers"), kgo.ConsumeTopics("ops.live"), kgo.ClientID("ops-worker-3"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n := 0; n == 0; n = busy.PollFetches(ctx).NumRecords() { // the member stays in the group from here on
		if ctx.Err() != nil {
			t.Fatal("the member read nothing in 30s")
		}
	}
	if err := busy.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	base := serveConsole(t, c)
	p := page{t, browser(t)}
	p.step("open the group", chromedp.Navigate(base+"/console#/groups/ops.live-readers"), chromedp.WaitVisible("#reset-group"),
		chromedp.Poll[chromedp.Void](`document.getElementById("group-members").textContent === "1"`))
	p.step("preview a reset", chromedp.Click("#reset-preview"), chromedp.WaitVisible("#reset-result .error"))
	if got := p.text("#reset-result .error"); !strings.Contains(got, `"ops-worker-3"`) || !strings.Contains(got, "(409)") {
		t.Errorf("the refusal reads %q, want the member ops-worker-3 and 409", got)
	}
	if eval[bool](t, p, `document.getElementById("reset-confirm") !== null`) {
		t.Error("a refused preview offers the reset")
	}
}
