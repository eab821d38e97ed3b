//go:build browser

package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestBrowserShowsShareGroups: a share group, named like markup, whose
// member holds 3 of 10 records, is listed under Share groups; its page
// shows the member, the partition's lag and the 3 records in flight, and
// the name as text, never run. A cluster without share groups gets a
// page that says what it lacks.
func TestBrowserShowsShareGroups(t *testing.T) {
	const group = `<img src=x onerror="window.pwned=1">`
	c := kafkatest.NewCluster(t, kafkatest.Topic("jobs", 1))
	for i := range 10 {
		c.Produce(t, &kgo.Record{Topic: "jobs", Value: fmt.Appendf(nil, "%d", i)})
	}
	cfg := c.Config()
	cfg.GroupID = group
	sc, err := consumer.NewShare(cfg, consumer.ShareConcurrency(3), consumer.ShareFromBeginning())
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	if err := sc.Subscribe("jobs", consumer.HandlerFunc(func(ctx context.Context, _ *consumer.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	t.Cleanup(func() { close(release); cancel(); <-done; sc.Close() })
	url := serveConsole(t, c, admin.ShareInFlight(func(g string) map[string]map[int32]int {
		if g != group {
			return nil
		}
		return sc.InFlight()
	}))
	p := page{t, browser(t)}
	p.step("open share groups", chromedp.Navigate(url+"/console#/share-groups"), chromedp.WaitVisible(`#share-groups a`))
	if got := p.text(`#share-groups a`); got != group {
		t.Errorf("the group's link reads %q, want the name as text", got)
	}
	p.step("open the group", chromedp.Click(`#share-groups a`), chromedp.WaitVisible(chromedp.ID("share-in-flight")))
	p.step("see 3 records in flight", chromedp.Poll[chromedp.Void](`document.getElementById("share-in-flight").textContent === "3"`))
	if got := p.text("#share-members"); got != "1" {
		t.Errorf("members %q, want 1", got)
	}
	if got := p.text("#share-lag"); got != "10" {
		t.Errorf("lag %q, want 10", got)
	}
	if got := p.text("#share-partitions tbody"); !strings.Contains(got, "jobs") {
		t.Errorf("partitions %q, want jobs", got)
	}
	pwned, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("window.pwned === 1 || document.querySelector('#view img') !== null"))
	if err != nil || pwned {
		t.Errorf("the group's name ran as markup (%v)", err)
	}
	screenshot(t, p.ctx, "share-group")

	old := kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.MaxVersions(kversion.V3_9_0())))
	p.step("open share groups on Kafka 3.9", chromedp.Navigate(serveConsole(t, old)+"/console#/share-groups"), chromedp.WaitVisible(chromedp.ID("share-unsupported")))
	if got := p.text("#share-unsupported"); !strings.Contains(got, "ShareGroupHeartbeat") {
		t.Errorf("the page for a cluster without share groups says %q, want what it lacks", got)
	}
}
