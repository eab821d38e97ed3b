//go:build browser

package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/console"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/internal/service"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile, failing (not
// skipping) when there is none: the console is only tested in a browser.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else {
			t.Fatalf("the console's browser test needs Chromium at %s (%v): install it with "+
				"`apt-get update && apt-get install -y chromium`, as .ci/run does", chromiumPath, err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(375, 812),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium at %s: %v", path, err)
	}
	return bctx
}

// screenshot keeps a picture of the page in the test's directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// serveConsole serves the console and the admin API over c, as serve
// mounts them.
func serveConsole(t *testing.T, c *kafkatest.Cluster, opts ...admin.Option) string {
	t.Helper()
	return serveWithAPI(t, c, nil, opts...)
}

// serveWithAPI serves api (the send routes) next to the console, as
// serve does, when it is not nil.
func serveWithAPI(t *testing.T, c *kafkatest.Cluster, api http.Handler, opts ...admin.Option) string {
	t.Helper()
	mux := http.NewServeMux()
	if api != nil {
		mux.Handle("/", api)
	}
	adm := admin.New(c.Config(), c.Client(t), opts...)
	for _, p := range admin.Prefixes {
		mux.Handle(p, adm)
		mux.Handle(p+"/", adm)
	}
	page := console.Handler(console.FirstFigures(adm))
	mux.Handle("/console", page)
	mux.Handle("/console/", page)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// page drives one browser tab through steps.
type page struct {
	t   *testing.T
	ctx context.Context
}

// step runs actions within 20s; on failure it keeps a picture of the
// page and says which step failed.
func (p page) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		screenshot(p.t, p.ctx, "failed")
		p.t.Fatalf("%s: %v", name, err)
	}
}

// text is the text of the element sel (a CSS selector) shows.
func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(sel))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestBrowserBrowsesAMessage: in a real browser at phone width, the
// console asks for the token, lists a topic a test just produced to, and
// shows one of its messages.
func TestBrowserBrowsesAMessage(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 2))
	c.Produce(t, &kgo.Record{Topic: "orders.created", Partition: 1, Key: []byte("o-17"), Value: []byte(`{"order":17,"total":"42.50"}`)})
	url := serveConsole(t, c, admin.AuthToken("let-me-in"))
	ctx := browser(t)
	p := page{t, ctx}
	topicLink := `a[href="#/topics/orders.created"]`
	// A phone's width in the dark scheme: the page must fit and be
	// drawn for it.
	dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	p.step("emulate a phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), dark)
	p.step("open the console", chromedp.Navigate(url+"/console#/topics"), chromedp.WaitVisible(chromedp.ID("token")))
	p.step("give the token", chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`))
	p.step("see the topic", chromedp.WaitVisible(topicLink))
	topicCell := p.text(topicLink)
	p.step("open the topic", chromedp.Click(topicLink), chromedp.WaitVisible(`button[data-offset="0"]`))
	p.step("open the message", chromedp.Click(`button[data-offset="0"]`), chromedp.WaitVisible(chromedp.ID("message-value")))
	value := p.text("#message-value")
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	if err != nil || width > 375 {
		t.Errorf("the page is %d px wide (%v), want at most 375", width, err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string]("getComputedStyle(document.body).backgroundColor"))
	if err != nil || bg != "rgb(13, 17, 23)" {
		t.Errorf("background %q (%v), want the dark scheme's rgb(13, 17, 23)", bg, err)
	}
	screenshot(t, ctx, "message")
	p.step("see the overview", chromedp.Click(`a[data-nav="overview"]`), chromedp.WaitVisible(chromedp.ID("topic-count")))
	if n := p.text("#topic-count"); n != "1" {
		t.Errorf("overview counts %s topics, want 1", n)
	}
	screenshot(t, ctx, "overview")
	if topicCell != "orders.created" {
		t.Errorf("topic link %q, want orders.created", topicCell)
	}
	if !strings.Contains(value, `"order": 17`) || !strings.Contains(value, `"total": "42.50"`) {
		t.Errorf("message value %q, want the order pretty-printed", value)
	}
	if strings.Contains(location, "let-me-in") {
		t.Errorf("the token is in the URL %s", location)
	}
}

// TestBrowserReplaysDeadLetters: the service (serve's own code) hands
// three payments to a webhook that answers 500, so after a retry each is
// dead-lettered. In the browser the dead letters page groups the three
// failures and shows one's error; a dry run previews the replay and sends
// nothing; the replay sends them back to payments, where a franz-go
// client reads them and the webhook, answering 200 by now, receives them.
func TestBrowserReplaysDeadLetters(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlq", 1))
	hook := newFailingWebhook(t)
	url := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "payments",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             hook.srv.URL,
		"KAFKA_HANDLER_MAX_RETRIES":     "1",
		"KAFKA_HANDLER_RETRY_BACKOFF":   "10",
	})
	for i := range 3 {
		c.Produce(t, &kgo.Record{Topic: "payments", Key: fmt.Appendf(nil, "p%d", i), Value: fmt.Appendf(nil, `{"payment":%d}`, i)})
	}
	c.ReadAll(t, "payments.dlq", 3, 30*time.Second)
	hook.failing.Store(false)

	p := page{t, browser(t)}
	p.step("open dead letters", chromedp.Navigate(url+"/console#/dlq"), chromedp.WaitVisible(`a[href="#/dlq/payments.dlq"]`))
	p.step("open the topic", chromedp.Click(`a[href="#/dlq/payments.dlq"]`), chromedp.WaitVisible(`#letter-list button[data-offset="1"]`))
	if got := p.text("#view table tbody tr:only-child td:nth-child(3)"); got != "3" {
		t.Errorf("the failures are grouped as %q, want one row counting 3", got)
	}
	p.step("open a letter", chromedp.Click(`#letter-list button[data-offset="1"]`), chromedp.WaitVisible("#letter-error"))
	if got := p.text("#letter-error"); !strings.Contains(got, "500") {
		t.Errorf("letter error %q, want the webhook's 500", got)
	}
	p.step("preview", chromedp.Click("#dry-run"), chromedp.WaitVisible("#dry-run-summary"))
	if got := p.text("#dry-run-summary"); !strings.Contains(got, "would send 3 dead letters (3 to payments)") {
		t.Errorf("dry run says %q", got)
	}
	if got := p.text("#replay-result"); strings.Contains(got, "null") {
		t.Errorf("the preview reads %q", got)
	}
	if got := c.ReadToEnd(t, "payments"); len(got) != 3 {
		t.Fatalf("after the dry run payments holds %d records, want the 3 first sent", len(got))
	}
	screenshot(t, p.ctx, "dead-letters")
	p.step("replay", chromedp.Click("#replay"), chromedp.WaitVisible("#replay-summary"))
	if got := p.text("#replay-summary"); !strings.Contains(got, "Sent 3 dead letters") {
		t.Errorf("replay says %q", got)
	}
	back := c.ReadAll(t, "payments", 6, 10*time.Second)[3:]
	for i, rec := range back {
		if string(rec.Key) != fmt.Sprintf("p%d", i) || string(rec.Value) != fmt.Sprintf(`{"payment":%d}`, i) {
			t.Errorf("replayed record %d is %s=%s, want p%d={\"payment\":%d}", i, rec.Key, rec.Value, i, i)
		}
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if got := hook.delivered(); !slices.Equal(got, []string{"p0", "p1", "p2"}) {
			return fmt.Errorf("the webhook took %v, want p0, p1 and p2", got)
		}
		return nil
	})
}

// failingWebhook answers 500 while failing, then 200, keeping the keys
// of the messages it took.
type failingWebhook struct {
	srv     *httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	keys    []string
}

func newFailingWebhook(t *testing.T) *failingWebhook {
	t.Helper()
	h := &failingWebhook{}
	h.failing.Store(true)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Key string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || h.failing.Load() {
			http.Error(w, "payments are down", http.StatusInternalServerError)
			return
		}
		h.mu.Lock()
		h.keys = append(h.keys, body.Key)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *failingWebhook) delivered() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.keys)
}

// startService runs kafkakit's service (what serve runs) on c with extra
// environment until the test ends, and returns its base URL.
func startService(t *testing.T, c *kafkatest.Cluster, extra map[string]string) string {
	t.Helper()
	m := map[string]string{"KAFKA_BROKERS": strings.Join(c.Addrs(), ","), "HTTP_ADDR": "127.0.0.1:0", "KAFKA_MAX_WAIT_TIME": "200"}
	maps.Copy(m, extra)
	cfg, err := service.FromEnv(env.Map(m))
	if err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	logger := slog.New(urlHandler{Handler: slog.NewTextHandler(io.Discard, nil), url: listening})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
	})
	select {
	case url := <-listening:
		return url
	case err := <-done:
		t.Fatalf("service ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the service is not listening after 30s")
	}
	return ""
}

// urlHandler passes the url of the "http server listening" record on.
type urlHandler struct {
	slog.Handler
	url chan<- string
}

func (h urlHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "http server listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "url" {
				select {
				case h.url <- a.Value.String():
				default:
				}
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h urlHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return urlHandler{Handler: h.Handler.WithAttrs(as), url: h.url}
}

func (h urlHandler) WithGroup(name string) slog.Handler {
	return urlHandler{Handler: h.Handler.WithGroup(name), url: h.url}
}

// TestBrowserOverviewIsLive: the overview reads /kafka/live with the
// bearer token and shows messages produced per second as they are sent.
func TestBrowserOverviewIsLive(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 1))
	reg, _, prod := observed(t, c)
	url := serveConsole(t, c, admin.AuthToken("let-me-in"), admin.Metrics(reg))
	p := page{t, browser(t)}
	p.step("open the console", chromedp.Navigate(url+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	p.step("give the token", chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`))
	p.step("see live figures", chromedp.WaitVisible(chromedp.ID("live-produced")))
	// One send per check, 40 checks at most: the figure must rise.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if _, err := prod.Send(t.Context(), producer.Message{Topic: "orders.created", Value: fmt.Appendf(nil, `{"order":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
		// "–" until the first event, then a rate: it must rise above 0.
		if got, err := strconv.ParseFloat(p.text("#live-produced"), 64); err == nil && got > 0 {
			break
		}
		if i == 40 || time.Now().After(deadline) {
			screenshot(t, p.ctx, "live")
			t.Fatalf("produced/s still %s after %d sends", p.text("#live-produced"), i+1)
		}
		waitNextEvent(t, p)
	}
}

// waitNextEvent waits until the live figures are redrawn with a newer
// event: the state line names the event it shows.
func waitNextEvent(t *testing.T, p page) {
	t.Helper()
	before, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](liveEventID))
	if err != nil {
		t.Fatal(err)
	}
	p.step("next live event", chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s !== %q`, liveEventID, before)))
}

// liveEventID is the id of the live event the overview shows, "" for none.
const liveEventID = `((document.getElementById("live-state") || {dataset: {}}).dataset.event || "")`

// TestBrowserProducesFromTheForm: a message sent from the topic page's
// form, with the bearer token, is found in the topic by kcat.
func TestBrowserProducesFromTheForm(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("this test reads the topic with kcat: %v (apt-get install -y kcat)", err)
	}
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 2))
	prod, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	url := serveWithAPI(t, c, httpapi.New(prod, httpapi.AuthToken("let-me-in")), admin.AuthToken("let-me-in"))
	p := page{t, browser(t)}
	p.step("open the topic", chromedp.Navigate(url+"/console#/topics/orders.created"), chromedp.WaitVisible(chromedp.ID("token")))
	p.step("give the token", chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#produce"))
	p.step("fill the form", chromedp.SendKeys(`#produce input[name="key"]`, "o-99"),
		chromedp.SendKeys(`#produce textarea[name="value"]`, `{"order":99,"from":"the form"}`),
		chromedp.SetValue(`#produce select[name="partition"]`, "1"))
	p.step("send", chromedp.Click(`#produce button[type="submit"]`),
		chromedp.Poll[chromedp.Void](`document.getElementById("produce-result").textContent.startsWith("Sent")`))
	if got := p.text("#produce-result"); got != "Sent to partition 1 at offset 0." {
		t.Errorf("the form says %q", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", c.Addrs()[0], "-C", "-t", "orders.created", "-o", "beginning", "-e", "-q",
		"-f", "%p %k %s\\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `1 o-99 {"order":99,"from":"the form"}` {
		t.Errorf("kcat read %q, want the message from the form in partition 1", got)
	}
}

// deadLetterPayments dead-letters payments p0, p1 and p2 to payments.dlt,
// as a webhook answering 500 would have them.
func deadLetterPayments(t *testing.T, prod *producer.Producer) {
	t.Helper()
	for i := range 3 {
		msg := &consumer.Message{Topic: "payments", Offset: int64(i), Key: fmt.Appendf(nil, "p%d", i), Value: fmt.Appendf(nil, `{"payment":%d}`, i), Timestamp: time.Now()}
		failed := &webhook.StatusError{Status: 500, Body: "payments are down"}
		if _, err := prod.Send(t.Context(), consumer.DeadLetter(msg, failed, 3, "billing", "payments.dlt", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
}

// observed returns a metrics registry and a producer that counts its
// sends there, closed with the test.
func observed(t *testing.T, c *kafkatest.Cluster) (*prometheus.Registry, *metrics.Metrics, *producer.Producer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := producer.New(c.Config(), producer.Observe(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	return reg, m, prod
}

// TestBrowserKeepsTheViewOpened: an answer for a view that was left while
// it was on its way does not draw over the view opened since. The
// overview's answer is held back until the dead letters page is open.
func TestBrowserKeepsTheViewOpened(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	prod, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	deadLetterPayments(t, prod)
	adm := admin.New(c.Config(), c.Client(t))
	release, answered := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/kafka/", adm)
	mux.HandleFunc("GET /kafka/groups", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		adm.ServeHTTP(w, r)
		close(answered)
	})
	mux.Handle("/console/", console.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	p := page{t, browser(t)}
	p.step("open the overview, its groups held back", chromedp.Navigate(srv.URL+"/console/"))
	p.step("open the dead letters", chromedp.Evaluate[chromedp.Void](`location.hash = "#/dlq/payments.dlt"`), chromedp.WaitVisible("#dry-run"))
	close(release)
	<-answered
	// The overview's answer has been sent: wait until the page has read
	// it, then for its handlers to have run (two turns of the event loop).
	p.step("the held answer arrives", chromedp.Poll[chromedp.Void](
		`performance.getEntriesByType("resource").some((e) => e.name.endsWith("/kafka/groups") && e.responseEnd > 0)`))
	p.step("its handlers run", chromedp.Evaluate[chromedp.Void](
		`new Promise((r) => setTimeout(() => setTimeout(r, 0), 0))`, chromedp.EvalAwaitPromise))
	if n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#dry-run").length + 10 * document.querySelectorAll("#topic-count").length`)); err != nil || n != 1 {
		screenshot(t, p.ctx, "clobbered")
		t.Errorf("after the overview's late answer the page shows %d (1: the dead letters only; 10s: the overview) (%v)", n, err)
	}
}

// lagChart sums the values the group page's lag chart writes beside its
// bars, -1 while there is no chart.
const lagChart = `(() => {
  const svg = document.querySelector('svg[aria-label="Lag per partition"]');
  if (!svg) return -1;
  const texts = svg.querySelectorAll("text");
  let sum = 0;
  for (let i = 1; i < texts.length; i += 2) sum += Number(texts[i].textContent.replace(/,/g, ""));
  return sum;
})()`

// TestBrowserLagChartRises: a group member that read three records and
// then stops reading falls behind as more are produced, and the group
// page's lag chart, refreshing itself, shows the lag rise.
func TestBrowserLagChartRises(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 2))
	produceOrders := func(from, n int) {
		for i := range n {
			c.Produce(t, &kgo.Record{Topic: "orders.created", Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"order":%d}`, from+i)})
		}
	}
	produceOrders(0, 3)
	slow := c.Client(t, kgo.ConsumerGroup("slow-readers"), kgo.ConsumeTopics("orders.created"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for n := 0; n < 3 && ctx.Err() == nil; {
		n += slow.PollFetches(ctx).NumRecords()
	}
	if err := slow.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// From here on the member stays in the group and reads nothing.
	produceOrders(3, 10)
	url := serveConsole(t, c)
	p := page{t, browser(t)}
	p.step("open the group", chromedp.Navigate(url+"/console#/groups/slow-readers"), chromedp.WaitVisible("#group-lag"))
	p.step("see lag 10 in the chart", chromedp.Poll[chromedp.Void](lagChart+" === 10"))
	widths := `Array.from(document.querySelectorAll('svg[aria-label="Lag per partition"] rect')).map((r) => Number(r.getAttribute("width")))`
	before, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]float64](widths))
	if err != nil {
		t.Fatal(err)
	}
	produceOrders(13, 21)
	p.step("see the lag rise to 31 in the chart", chromedp.Poll[chromedp.Void](lagChart+" === 31"))
	after, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]float64](widths))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.text("#group-lag"); got != "31" {
		t.Errorf("the group's lag reads %q, want 31", got)
	}
	// Partition 0 got 11 of the 21 and partition 1 got 10: partition 0's
	// bar, the longest, now has lag 16 against partition 1's 15.
	if len(before) != 2 || len(after) != 2 || !(after[1] < after[0]) || !(before[0] == before[1]) {
		t.Errorf("bar widths went from %v to %v, want equal bars then partition 0's longer", before, after)
	}
	screenshot(t, p.ctx, "lag")
}

// TestBrowserBrowsesFromATime: the message browser's "From time" field, a
// local time in the browser's zone (UTC here), shows the records from that
// time on, oldest first, and puts the time in the page's address as RFC
// 3339, so the page can be reloaded or shared.
func TestBrowserBrowsesFromATime(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("audit", 1))
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		c.Produce(t, &kgo.Record{Topic: "audit", Value: fmt.Appendf(nil, "event %d", i), Timestamp: base.Add(time.Duration(i) * time.Hour)})
	}
	url := serveConsole(t, c)
	p := page{t, browser(t)}
	utc := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
		return err
	})
	p.step("open the topic", utc, chromedp.Navigate(url+"/console#/topics/audit"), chromedp.WaitVisible(`button[data-offset="0"]`))
	p.step("ask from 11:00", chromedp.SetJavascriptAttribute(`input[name="from"]`, "value", "2026-11-30T11:00"),
		chromedp.Click(`#message-filters button[type="submit"]`),
		chromedp.Poll[chromedp.Void](`location.hash.includes("from=") && !document.querySelector('button[data-offset="0"]')`))
	offsets, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("button[data-offset]")).map((b) => b.dataset.offset)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(offsets, ",") != "1,2" {
		t.Errorf("from 11:00 the page lists offsets %v, want 1 then 2", offsets)
	}
	hash, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`decodeURIComponent(location.hash)`))
	if err != nil || !strings.Contains(hash, "from=2026-11-30T11:00:00.000Z") {
		t.Errorf("address %q (%v), want from=2026-11-30T11:00:00.000Z", hash, err)
	}
	if got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('input[name="from"]').value`)); err != nil || got != "2026-11-30T11:00" {
		t.Errorf("the field shows %q (%v) after the reload, want 2026-11-30T11:00", got, err)
	}
}
