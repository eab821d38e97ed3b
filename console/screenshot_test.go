//go:build browser

package console_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

// update rewrites the screenshots of docs/console-and-admin-api.md:
//
//	go test -tags browser ./console -run TestScreenshots -args -update
var update = flag.Bool("update", false, "write the console page's screenshots to docs/")

// TestScreenshots draws the overview with a few seconds of live figures
// and a dead-letter topic with a replay preview, at a laptop's width in
// the light scheme, and keeps both pictures (in docs/ with -update).
func TestScreenshots(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 3), kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	reg, m, prod := observed(t, c)
	deadLetterPayments(t, prod)
	url := serveConsole(t, c, admin.Metrics(reg))
	p := page{t, browser(t)}
	p.step("laptop size", chromedp.EmulateViewport(1000, 900))
	p.step("open the overview", chromedp.Navigate(url+"/console"), chromedp.WaitVisible(chromedp.ID("live-produced")))
	// Eight seconds of sends, uneven, for the charts.
	for _, n := range []int{12, 30, 18, 42, 25, 36, 20, 40} {
		for j := range n {
			if _, err := prod.Send(t.Context(), producer.Message{Topic: "orders.created", Key: fmt.Appendf(nil, "o-%d", j), Value: []byte(`{"order":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		m.ObserveHTTP("/kafka/send", "POST", 200, time.Millisecond)
		waitNextEvent(t, p)
	}
	keep(t, p, "console-overview.png")
	p.step("open the dead letters", chromedp.Navigate(url+"/console#/dlq/payments.dlt"), chromedp.WaitVisible("#dry-run"))
	p.step("preview a replay", chromedp.Click("#dry-run"), chromedp.WaitVisible("#dry-run-summary"))
	keep(t, p, "console-dlq.png")
}

// keep saves the viewport as name: in docs/ with -update, else in the
// test's directory.
func keep(t *testing.T, p page, name string) {
	t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if *update {
		dir = filepath.Join("..", "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
