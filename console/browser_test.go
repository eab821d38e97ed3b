package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/console"
	"github.com/kafkakit/kafkakit/kafkatest"
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

// TestBrowserBrowsesAMessage: in a real browser at phone width, the
// console asks for the token, lists a topic a test just produced to, and
// shows one of its messages.
func TestBrowserBrowsesAMessage(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.created", 2))
	c.Produce(t, &kgo.Record{Topic: "orders.created", Partition: 1, Key: []byte("o-17"), Value: []byte(`{"order":17,"total":"42.50"}`)})
	mux := http.NewServeMux()
	adm := admin.New(c.Config(), c.Client(t), admin.AuthToken("let-me-in"))
	for _, p := range admin.Prefixes {
		mux.Handle(p, adm)
		mux.Handle(p+"/", adm)
	}
	mux.Handle("/console", console.Handler())
	mux.Handle("/console/", console.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := browser(t)
	// step runs actions within 20s; on failure it keeps a picture of the
	// page and says which step failed.
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			screenshot(t, ctx, "failed")
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel any) string {
		t.Helper()
		var s string
		var err error
		switch sel := sel.(type) {
		case string:
			s, err = chromedp.Run(ctx, chromedp.Text(sel))
		case chromedp.ID:
			s, err = chromedp.Run(ctx, chromedp.Text(sel))
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	topicLink := `a[href="#/topics/orders.created"]`
	// A phone's width in the dark scheme: the page must fit and be
	// drawn for it.
	dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	step("emulate a phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), dark)
	step("open the console", chromedp.Navigate(srv.URL+"/console#/topics"), chromedp.WaitVisible(chromedp.ID("token")))
	step("give the token", chromedp.SendKeys(chromedp.ID("token"), "let-me-in"), chromedp.Click(`#login button[type="submit"]`))
	step("see the topic", chromedp.WaitVisible(topicLink))
	topicCell := text(topicLink)
	step("open the topic", chromedp.Click(topicLink), chromedp.WaitVisible(`button[data-offset="0"]`))
	step("open the message", chromedp.Click(`button[data-offset="0"]`), chromedp.WaitVisible(chromedp.ID("message-value")))
	value := text(chromedp.ID("message-value"))
	url, err := chromedp.Run(ctx, chromedp.Location())
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
	step("see the overview", chromedp.Click(`a[data-nav="overview"]`), chromedp.WaitVisible(chromedp.ID("topic-count")))
	if n := text(chromedp.ID("topic-count")); n != "1" {
		t.Errorf("overview counts %s topics, want 1", n)
	}
	screenshot(t, ctx, "overview")
	if topicCell != "orders.created" {
		t.Errorf("topic link %q, want orders.created", topicCell)
	}
	if !strings.Contains(value, `"order": 17`) || !strings.Contains(value, `"total": "42.50"`) {
		t.Errorf("message value %q, want the order pretty-printed", value)
	}
	if strings.Contains(url, "let-me-in") {
		t.Errorf("the token is in the URL %s", url)
	}
}
