//go:build browser

package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

// shown reports whether the element sel (a CSS selector) is on the page
// and drawn.
func (p page) shown(sel string) bool {
	p.t.Helper()
	js := `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.getClientRects().length > 0; })()`
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		p.t.Fatalf("is %s shown: %v", sel, err)
	}
	return v
}

// jsString quotes s for a script: s holds no quote or backslash.
func jsString(s string) string { return `"` + s + `"` }

// open shows the console's page at hash and waits for its title.
func (p page) open(hash, title string) {
	p.t.Helper()
	p.step("open "+hash, chromedp.Evaluate[chromedp.Void](`location.hash = "`+hash+`"`),
		chromedp.Poll[chromedp.Void](`(() => { const h = document.querySelector("#view h2"); return h && h.textContent === `+jsString(title)+`; })()`))
}

// TestBrowserShowsOnlyWhatTheTokenMayDo: signed in with each of three
// scoped tokens of one tokens file, the console shows the produce form
// only on topics the token may send to, the replay form only to a token
// with replay, and a control marked data-scope="admin" only to a token
// with admin.
func TestBrowserShowsOnlyWhatTheTokenMayDo(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.eu", 1), kafkatest.Topic("payments", 1), kafkatest.Topic("payments.dlt", 1))
	prod, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	deadLetterPayments(t, prod)
	tokens, err := apicontract.ReadTokens(strings.NewReader(`
reader  readerToken-0123456789  read
orders  ordersToken-0123456789  read,send:orders.*
ops     opsToken-0123456789     read,replay,admin
`))
	if err != nil {
		t.Fatal(err)
	}
	guard := apicontract.NewGuard(tokens)
	url := serveWithAPI(t, c, httpapi.New(prod, httpapi.Guard(guard)), admin.Guard(guard))
	p := page{t, browser(t)}
	p.step("open the console", chromedp.Navigate(url+"/console#/topics/orders.eu"), chromedp.WaitVisible(chromedp.ID("token")))
	for _, tt := range []struct {
		token                                        string
		produceOrders, producePayments, replay, root bool
	}{
		{"readerToken-0123456789", false, false, false, false},
		{"ordersToken-0123456789", true, false, false, false},
		{"opsToken-0123456789", false, false, true, true},
	} {
		name, _, _ := strings.Cut(tt.token, "Token")
		p.step(name+": sign in", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); location.hash = "#/topics/orders.eu"`),
			chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), tt.token), chromedp.Click(`#login button[type="submit"]`),
			// Each token reads: its scopes are known once the page says so.
			chromedp.Poll[chromedp.Void](`document.body.classList.contains("may-read")`))
		p.open("#/topics/orders.eu", "orders.eu")
		if got := p.shown("#produce"); got != tt.produceOrders {
			t.Errorf("%s: the produce form on orders.eu is shown: %t, want %t", name, got, tt.produceOrders)
		}
		p.open("#/topics/payments", "payments")
		if got := p.shown("#produce"); got != tt.producePayments {
			t.Errorf("%s: the produce form on payments is shown: %t, want %t", name, got, tt.producePayments)
		}
		p.open("#/dlq/payments.dlt", "payments.dlt")
		if got := p.shown("#dry-run"); got != tt.replay {
			t.Errorf("%s: the replay form is shown: %t, want %t", name, got, tt.replay)
		}
		p.step(name+": add an admin control", chromedp.Evaluate[chromedp.Void](
			`(() => { const b = document.createElement("button"); b.id = "admin-probe"; b.dataset.scope = "admin"; b.textContent = "Delete"; document.getElementById("view").append(b); })()`))
		if got := p.shown("#admin-probe"); got != tt.root {
			t.Errorf("%s: a control marked data-scope=admin is shown: %t, want %t", name, got, tt.root)
		}
	}
}
