//go:build browser

package console_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

// inZone makes the page's local time zone zone.
func inZone(zone string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	})
}

// eval is the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, p page, expr string) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestBrowserFirstPaintHasFigures: `chromium --headless` run as a
// command, as one takes a screenshot, finds the overview's figures in the
// page it loaded, the server having put them in, not "Waiting for live
// figures…".
func TestBrowserFirstPaintHasFigures(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 2), kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	reg, _, prod := observed(t, c)
	deadLetterPayments(t, prod)
	url := serveConsole(t, c, admin.Metrics(reg))
	dir := t.TempDir()
	shot := filepath.Join(dir, "overview.png")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	run := func(args ...string) string {
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + filepath.Join(dir, "profile"),
			"--window-size=1000,900"}, args...)
		out, err := exec.CommandContext(ctx, chromiumPath, append(args, url+"/console")...).Output()
		if err != nil {
			t.Fatalf("chromium %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	dom := run("--dump-dom")
	for _, want := range []string{`<b id="topic-count">3</b>`, `<b id="dead-letter-count">3</b>`, `<b id="group-count">0</b>`, `id="live-produced"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page as loaded lacks %s", want)
		}
	}
	if strings.Contains(dom, "Waiting for live figures") {
		t.Errorf("the page as loaded is waiting for live figures")
	}
	run("--screenshot=" + shot)
	if png, err := os.ReadFile(shot); err != nil || len(png) < 1000 {
		t.Errorf("chromium --screenshot wrote %d bytes (%v)", len(png), err)
	}
}

// TestBrowserFirstFiguresNeedTheToken: with a token set, the page is
// served without figures, and loads them with the token once given.
func TestBrowserFirstFiguresNeedTheToken(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("secret.orders", 1))
	url := serveConsole(t, c, admin.AuthToken("let-me-in"))
	p := page{t, browser(t)}
	p.step("open the console", chromedp.Navigate(url+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	if got := eval[string](t, p, `document.getElementById("first-figures").textContent`); got != "" {
		t.Errorf("the page holds figures %q before the token is given", got)
	}
	p.step("give the token", chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible(chromedp.ID("topic-count")))
	if got := p.text("#topic-count"); got != "1" {
		t.Errorf("topics %s, want 1", got)
	}
}

// TestBrowserOverviewSaysWhenAndHowMany: the overview counts dead
// letters, says when its figures were last updated relative to now with
// the exact local time on hover, and its charts have a time axis in the
// browser's local time.
func TestBrowserOverviewSaysWhenAndHowMany(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 1), kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	reg, _, prod := observed(t, c)
	deadLetterPayments(t, prod)
	url := serveConsole(t, c, admin.Metrics(reg))
	p := page{t, browser(t)}
	p.step("open the overview in Kolkata", inZone("Asia/Kolkata"), chromedp.Navigate(url+"/console"), chromedp.WaitVisible("#dead-letter-count"))
	if got := p.text("#dead-letter-count"); got != "3" {
		t.Errorf("the overview counts %s dead letters, want 3", got)
	}
	// Three events, so that the charts have a time span.
	for range 3 {
		if _, err := prod.Send(t.Context(), producer.Message{Topic: "orders.created", Value: []byte(`{"order":1}`)}); err != nil {
			t.Fatal(err)
		}
		waitNextEvent(t, p)
	}
	updated := p.text("#live-updated")
	if !regexp.MustCompile(`^\d+ s ago$`).MatchString(updated) {
		t.Errorf("last update reads %q, want \"N s ago\"", updated)
	}
	title := eval[string](t, p, `document.getElementById("live-updated").title`)
	iso := eval[string](t, p, `document.getElementById("live-updated").dateTime`)
	at, err := time.Parse(time.RFC3339Nano, iso)
	if err != nil {
		t.Fatalf("the update's time %q: %v", iso, err)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	// Chromium may name the zone by its older name, Asia/Calcutta.
	zone := eval[string](t, p, `Intl.DateTimeFormat().resolvedOptions().timeZone`)
	if want := at.In(kolkata).Format("2006-01-02 15:04:05.000") + " (" + zone + ")"; !strings.HasPrefix(title, want) || !strings.Contains(title, iso) {
		t.Errorf("hovering the update shows %q, want %q and %s", title, want, iso)
	}
	ticks := eval[[]string](t, p, `Array.from(document.querySelectorAll('svg[aria-label^="Produced"] text.tick')).map((e) => e.dataset.time + " " + e.textContent)`)
	if len(ticks) < 2 {
		t.Fatalf("the produced chart has ticks %v, want a time axis", ticks)
	}
	for _, tick := range ticks {
		iso, label, _ := strings.Cut(tick, " ")
		at, err := time.Parse(time.RFC3339Nano, iso)
		if err != nil || label != at.In(kolkata).Format("15:04:05") {
			t.Errorf("tick %q, want its time in Kolkata as hh:mm:ss (%v)", tick, err)
		}
	}
}

// TestBrowserExplainsADeadLetter: at a phone's width, a dead letter of a
// webhook's 500 with a binary value reads as such: the cause in words
// with the type in the detail, the original partition, offset and time as
// numbers and a date, the value as "binary, 6 bytes" with its base64 in
// the detail; the failures table scrolls within its box.
func TestBrowserExplainsADeadLetter(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("payments", 3), kafkatest.Topic("payments.dlt", 3))
	prod, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	value := []byte{0xff, 0x00, 0xfe, 0x00, 0x01, 0x02}
	produced := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	msg := &consumer.Message{Topic: "payments", Partition: 2, Offset: 17, Key: []byte("p-17"), Value: value, Timestamp: produced}
	cause := &webhook.StatusError{Status: 500, Body: "payments are down, a long explanation that makes the failures table wider than a phone"}
	if _, err := prod.Send(t.Context(), consumer.DeadLetter(msg, cause, 4, "billing", "payments.dlt", time.Now())); err != nil {
		t.Fatal(err)
	}
	url := serveConsole(t, c)
	p := page{t, browser(t)}
	p.step("a phone in UTC", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), inZone("UTC"))
	p.step("open the dead letters", chromedp.Navigate(url+"/console#/dlq/payments.dlt"), chromedp.WaitVisible(`#letter-list button[data-offset="0"]`))
	if got := p.text("#failures tbody td:nth-child(2)"); got != "HTTP 500 from the webhook" {
		t.Errorf("the failure's cause reads %q, want HTTP 500 from the webhook", got)
	}
	if got := eval[string](t, p, `document.querySelector("#failures tbody td:nth-child(2) span").title`); got != "type: *webhook.StatusError" {
		t.Errorf("hovering the cause shows %q, want its type", got)
	}
	// On a phone the table reflows, a block per failure: no cell lies
	// beyond the screen's edge, and the page does not scroll sideways.
	if w := eval[int](t, p, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("the page is %d px wide, want at most 375", w)
	}
	outside := eval[[]string](t, p, `Array.from(document.querySelectorAll("#failures td, #letter-list td")).filter((td) => {
		const r = td.getBoundingClientRect(); return r.left < 0 || r.right > 375; }).map((td) => td.dataset.label + ": " + td.textContent)`)
	if len(outside) != 0 {
		t.Errorf("these cells lie beyond the phone's 375 px: %q", outside)
	}
	if got := eval[string](t, p, `document.querySelector("#failures td:last-child").dataset.label`); got != "Example" {
		t.Errorf("the last cell is labelled %q, want Example", got)
	}
	p.step("open the letter", chromedp.Click(`#letter-list button[data-offset="0"]`), chromedp.WaitVisible("#letter-cause"))
	if got := p.text("#letter-cause"); got != "HTTP 500 from the webhook" {
		t.Errorf("the letter's cause reads %q", got)
	}
	if got := p.text("#letter-type"); got != "*webhook.StatusError" {
		t.Errorf("the letter's type reads %q", got)
	}
	headers := map[string]string{}
	for _, kv := range eval[[]string](t, p, `Array.from(document.querySelectorAll("#letter dl.kv dt")).map((dt) => dt.textContent + "=" + dt.nextElementSibling.textContent)`) {
		k, v, _ := strings.Cut(kv, "=")
		headers[k] = v
	}
	for k, want := range map[string]string{
		"header kafka_dlt-original-partition": "2",
		"header kafka_dlt-original-offset":    "17",
		"header kafka_dlt-original-timestamp": "2026-11-30 10:00:00.000",
		"header kafka_dlt-original-topic":     "payments",
		"value encoding":                      "base64 (binary, 6 bytes)",
	} {
		if headers[k] != want {
			t.Errorf("%s reads %q, want %q", k, headers[k], want)
		}
	}
	if got := p.text("#message-base64"); got != base64.StdEncoding.EncodeToString(value) {
		t.Errorf("the value's base64 reads %q", got)
	}
	screenshot(t, p.ctx, "letter")
	p.step("list the topic's messages", chromedp.Navigate(url+"/console#/topics/payments.dlt"), chromedp.WaitVisible("#message-filters"))
	if got := p.text(`button[data-offset="0"]`); got != "binary, 6 bytes" {
		t.Errorf("the binary value reads %q in the list, want binary, 6 bytes", got)
	}
	when := eval[string](t, p, `document.querySelector('button[data-offset="0"]').closest("tr").children[2].textContent`)
	if !regexp.MustCompile(`^\d+ s ago$`).MatchString(when) {
		t.Errorf("the message's time reads %q, want \"N s ago\"", when)
	}
}

// TestBrowserGroupsSayTheirProtocol: a classic group of Kafka consumers
// reads "classic" with its assignor, not "consumer", which would read as
// KIP-848.
func TestBrowserGroupsSayTheirProtocol(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 1))
	c.Produce(t, &kgo.Record{Topic: "orders.created", Value: []byte(`{"order":1}`)})
	cl := c.Client(t, kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders.created"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n := 0; n < 1 && ctx.Err() == nil; {
		n += cl.PollFetches(ctx).NumRecords()
	}
	url := serveConsole(t, c)
	p := page{t, browser(t)}
	p.step("open the groups", chromedp.Navigate(url+"/console#/groups"), chromedp.WaitVisible(`a[href="#/groups/shipping"]`))
	if got := p.text("#view tbody tr td:nth-child(3)"); got != "classic" {
		t.Errorf("the group's protocol reads %q, want classic", got)
	}
	p.step("open the group", chromedp.Click(`a[href="#/groups/shipping"]`), chromedp.WaitVisible("#group-assignor"))
	if got := p.text("#group-protocol") + ", " + p.text("#group-assignor"); got != "classic, cooperative-sticky" {
		t.Errorf("the group reads %q, want classic, cooperative-sticky", got)
	}
}

// TestBrowserMalformedAddress: an address whose escapes do not decode
// shows a "not found" view, and nothing is thrown.
func TestBrowserMalformedAddress(t *testing.T) {
	c := kafkatest.NewCluster(t)
	url := serveConsole(t, c)
	p := page{t, browser(t)}
	p.step("open the console", chromedp.Navigate(url+"/console"), chromedp.WaitVisible("#topic-count"),
		chromedp.Evaluate[chromedp.Void](`window.thrown = []; window.addEventListener("error", (e) => thrown.push(e.message));`))
	for _, hash := range []string{"#/topics/%E0%A4%A", "#/dlq/%", "#/nowhere"} {
		p.step("go to "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)), chromedp.WaitVisible("#not-found"))
		if got := p.text("#view p"); !strings.Contains(got, "is not a page of this console") {
			t.Errorf("%s shows %q", hash, got)
		}
		p.step("back to the overview", chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`), chromedp.WaitVisible("#topic-count"))
	}
	if thrown := eval[[]string](t, p, `thrown`); len(thrown) != 0 {
		t.Errorf("the page threw %v", thrown)
	}
}
