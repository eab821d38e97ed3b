//go:build browser

package console_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrowserShowsStuckRecords: a consumer retrying through topics whose
// first record of a key hangs in the last retry topic holds the key's
// next record in the first one past the stuck bound. The consumers page
// shows that record under its subscription (its retry topic, partition,
// key, offset and how long it has waited), the key written as text even
// when it looks like markup; once the first record is released the page
// shows none.
func TestBrowserShowsStuckRecords(t *testing.T) {
	const key = `<img src=x onerror="document.title='owned'">`
	c := kafkatest.NewCluster(t, kafkatest.Topic("st", 1))
	c.Produce(t, &kgo.Record{Topic: "st", Key: []byte(key), Value: []byte("a")}, &kgo.Record{Topic: "st", Key: []byte(key), Value: []byte("b")})
	release := make(chan struct{})
	var aCalls atomic.Int32
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if string(m.Value) != "a" {
			return nil
		}
		if aCalls.Add(1) <= 2 {
			return errors.New("failing twice")
		}
		select { // in the last retry topic: hangs until released
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	cfg := c.Config()
	cfg.Assigners = []string{"range"}
	cs, err := consumer.New(cfg, consumer.Group("stuck-readers"))
	if err != nil {
		t.Fatal(err)
	}
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond, 100*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	if err := cs.Subscribe("st", true, h, consumer.Failures(policy)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		cs.Close()
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	url := serveConsole(t, c, admin.Consumers(func() []consumer.Status { return []consumer.Status{cs.Status()} }))
	p := page{t, browser(t)}
	row := `.stuck tbody tr`
	p.step("open the consumers page", chromedp.Navigate(url+"/console#/consumers"), chromedp.WaitVisible(`a[href="#/groups/stuck-readers"]`))
	p.step("see the stuck record", chromedp.WaitVisible(row))
	cells, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".stuck tbody tr td")).map((td) => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 6 || cells[0] != "st-retry-50" || cells[1] != "0" || cells[2] != key || cells[4] != "0 of st" || !strings.HasSuffix(cells[5], " s") {
		t.Errorf("stuck record row %q: want st-retry-50, partition 0, the key as text, waiting for offset 0 of st, for some seconds", cells)
	}
	imgs, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#view img").length`))
	if err != nil || imgs != 0 {
		t.Errorf("the key made %d img elements (%v): it must be text", imgs, err)
	}
	if title := p.title(); title == "owned" {
		t.Errorf("the key's markup ran")
	}
	screenshot(t, p.ctx, "stuck")
	close(release)
	p.step("see it gone once released", chromedp.Poll[chromedp.Void](`document.querySelector(".stuck") === null && document.querySelector("h2") !== null`))
}

// title is the page's title.
func (p page) title() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Title())
	if err != nil {
		p.t.Fatalf("title: %v", err)
	}
	return s
}
