package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// routeScopes is the scope each route of the service needs, written out
// here apart from the rule that decides it (apicontract.RouteScope), so
// that the matrix below holds the rule to what the docs promise. A route
// the service serves that is not here fails the test: decide its scope
// and add it. Routes listed that are not served (yet) are skipped.
var routeScopes = map[string]apicontract.Scope{
	"GET /healthz":                       apicontract.ScopeRead,
	"GET /readyz":                        apicontract.ScopeRead,
	"GET /metrics":                       apicontract.ScopeRead,
	"GET /openapi.json":                  apicontract.ScopeRead,
	"GET /{$}":                           apicontract.ScopeRead,
	"GET /kafka/whoami":                  apicontract.ScopeAny,
	"POST /kafka/send":                   apicontract.ScopeSend,
	"POST /kafka/send-batch":             apicontract.ScopeSend,
	"POST /kafka/stream":                 apicontract.ScopeSend,
	"GET /kafka/topics":                  apicontract.ScopeRead,
	"GET /kafka/topics/{topic}":          apicontract.ScopeRead,
	"GET /kafka/topics/{topic}/messages": apicontract.ScopeRead,
	"GET /kafka/groups":                  apicontract.ScopeRead,
	"GET /kafka/groups/{group}":          apicontract.ScopeRead,
	"GET /kafka/share-groups":            apicontract.ScopeRead,
	"GET /kafka/share-groups/{group}":    apicontract.ScopeRead,
	"GET /kafka/consumers":               apicontract.ScopeRead,
	"GET /kafka/dlq/{topic}":             apicontract.ScopeRead,
	"GET /kafka/live":                    apicontract.ScopeRead,
	"POST /kafka/dlq/{topic}/replay":     apicontract.ScopeReplay,
	"POST /kafka/topics":                 apicontract.ScopeAdmin,
	"PATCH /kafka/topics/{topic}":        apicontract.ScopeAdmin,
	"DELETE /kafka/topics/{topic}":       apicontract.ScopeAdmin,
	"POST /kafka/groups/{group}/reset":   apicontract.ScopeAdmin,
	"DELETE /kafka/groups/{group}":       apicontract.ScopeAdmin,
	"POST /kafka/queues/{group}/receive": apicontract.ScopeConsume,
	"POST /kafka/queues/{group}/ack":     apicontract.ScopeConsume,
}

// scopeTokens holds one token per scope, each with that scope alone, and
// one with send for orders.* only.
const scopeTokens = `# one token per scope
reader    readerToken-0123456789    read
sender    senderToken-0123456789    send:*
consumer  consumerToken-0123456789  consume:*
replayer  replayerToken-0123456789  replay
admin     adminToken-0123456789     admin
orders    ordersToken-0123456789    send:orders.*
`

// scopeToken is the token of scopeTokens holding scope alone.
func scopeToken(scope apicontract.Scope) string {
	return map[apicontract.Scope]string{apicontract.ScopeRead: "readerToken-0123456789", apicontract.ScopeSend: "senderToken-0123456789",
		apicontract.ScopeConsume: "consumerToken-0123456789", apicontract.ScopeReplay: "replayerToken-0123456789",
		apicontract.ScopeAdmin: "adminToken-0123456789"}[scope]
}

// servedRoutes is every route the service serves: httpapi's, the admin
// API's, the OpenAPI document's operations, and GET /.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	documented, err := documentedRoutes()
	if err != nil {
		t.Fatal(err)
	}
	routes := slices.Concat(httpapi.New(nil).Routes(), admin.New(config.Kafka{}, nil).Routes(), documented, []string{"GET /{$}"})
	slices.Sort(routes)
	return slices.Compact(routes)
}

func documentedRoutes() ([]string, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		return nil, err
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	return out, nil
}

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// scopeAnswer is a route's answer to a token: status, error code and
// message.
type scopeAnswer struct {
	status        int
	code, message string
}

// askRoute asks the route of pattern with token, wildcards filled in,
// and returns once the answer's head is in (a stream's body is not
// waited for).
func askRoute(t *testing.T, base, pattern, token string) scopeAnswer {
	t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.NewReplacer("{topic}", "scoped", "{group}", "nobody", "{$}", "").Replace(path)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(`{"dry_run":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	a := scopeAnswer{status: resp.StatusCode}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		var body apicontract.Envelope
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &body); err != nil || body.Error == nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		a.code, a.message = body.Error.Code, body.Error.Message
	}
	return a
}

// TestScopeMatrix asks every route the service serves with a token of
// each scope alone, every route protected (HTTP_AUTH_TOKEN_PROTECT_ALL):
// the token with the route's scope is let through, every other is
// answered 403 insufficient_scope naming the scope; HTTP_AUTH_TOKEN's
// token, which has every scope, is let through everywhere.
func TestScopeMatrix(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("scoped", 1), kafkatest.Topic("orders.eu", 1))
	url, _, sink := startService(t, c, map[string]string{
		"HTTP_TOKENS_FILE":            writeTokens(t, scopeTokens),
		"HTTP_AUTH_TOKEN":             "defaultToken-0123456789",
		"HTTP_AUTH_TOKEN_PROTECT_ALL": "true",
	})
	for _, route := range servedRoutes(t) {
		want, ok := routeScopes[route]
		if !ok {
			t.Errorf("the service serves %s, which routeScopes does not list: decide its scope and add it", route)
			continue
		}
		if got, _ := apicontract.RouteScope(route); got != want {
			t.Errorf("RouteScope(%s) = %q, want %q", route, got, want)
		}
		t.Run(route, func(t *testing.T) {
			for _, scope := range apicontract.Scopes {
				a := askRoute(t, url, route, scopeToken(scope))
				switch {
				case scope == want || want == apicontract.ScopeAny:
					if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
						t.Errorf("a %s token: %d %s %q, want it let through", scope, a.status, a.code, a.message)
					}
				case a.status != http.StatusForbidden || a.code != apicontract.CodeInsufficientScope ||
					!strings.Contains(a.message, `scope "`+string(want)+`"`):
					t.Errorf("a %s token: %d %s %q, want 403 insufficient_scope naming %q", scope, a.status, a.code, a.message, want)
				}
			}
			if a := askRoute(t, url, route, "defaultToken-0123456789"); a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
				t.Errorf("HTTP_AUTH_TOKEN: %d %s %q, want it let through", a.status, a.code, a.message)
			}
			if a := askRoute(t, url, route, "unknownToken-0123456789"); a.status != http.StatusUnauthorized {
				t.Errorf("an unknown token: %d, want 401", a.status)
			}
		})
	}
	sink.assertNoneShows(t, "Token-0123456789")
}

// assertNoneShows fails for each log line that shows s.
func (s *logSink) assertNoneShows(t *testing.T, s2 string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if b, _ := json.Marshal(l); strings.Contains(string(b), s2) {
			t.Errorf("a log line shows a token: %s", b)
		}
	}
}

// postAs sends body to url with token and returns the status and the
// decoded answer.
func postAs(t *testing.T, url, token, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if contentType == "application/x-ndjson" {
		line, _, _ := strings.Cut(string(b), "\n")
		b = []byte(line)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// TestSendScopeIsPerTopic: a token sends only to the topics of its send
// patterns, in each send route, a batch refused whole; the allowlist
// (HTTP_ALLOWED_TOPICS) still applies on top; open routes stay open.
func TestSendScopeIsPerTopic(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("scoped", 1), kafkatest.Topic("orders.eu", 1), kafkatest.Topic("payments", 1))
	url, _, _ := startService(t, c, map[string]string{
		"HTTP_TOKENS_FILE":    writeTokens(t, scopeTokens),
		"HTTP_ALLOWED_TOPICS": "scoped,orders.*",
	})
	const orders, sender = "ordersToken-0123456789", "senderToken-0123456789"
	refused := func(what string, status int, body map[string]any, code, field, says string) {
		t.Helper()
		e, _ := body["error"].(map[string]any)
		if status != http.StatusForbidden || e["code"] != code || e["field"] != field || !strings.Contains(e["message"].(string), says) {
			t.Errorf("%s: got %d %v, want 403 %s field %q saying %q", what, status, body, code, field, says)
		}
	}
	if status, body := postAs(t, url+"/kafka/send", orders, "application/json", `{"topic":"orders.eu","value":"v"}`); status != 200 {
		t.Errorf("send to orders.eu with send:orders.*: %d %v", status, body)
	}
	status, body := postAs(t, url+"/kafka/send", orders, "application/json", `{"topic":"scoped","value":"v"}`)
	refused("send to scoped with send:orders.*", status, body, apicontract.CodeInsufficientScope, "topic", `scope "send:scoped"`)
	status, body = postAs(t, url+"/kafka/send-batch", orders, "application/json",
		`{"messages":[{"topic":"orders.eu","value":"batched"},{"topic":"scoped","value":"v"}]}`)
	refused("batch with one topic outside send:orders.*", status, body, apicontract.CodeInsufficientScope, "messages[1].topic", `scope "send:scoped"`)
	status, body = postAs(t, url+"/kafka/stream", orders, "application/x-ndjson", `{"topic":"scoped","value":"v"}`+"\n")
	if e, _ := body["error"].(map[string]any); status != 200 || e["code"] != apicontract.CodeInsufficientScope {
		t.Errorf("a stream's line to scoped with send:orders.*: %d %v, want its line refused insufficient_scope", status, body)
	}
	status, body = postAs(t, url+"/kafka/send", sender, "application/json", `{"topic":"payments","value":"v"}`)
	refused("send:* to a topic outside HTTP_ALLOWED_TOPICS", status, body, apicontract.CodeForbidden, "topic", "not allowed here")
	if recs := c.ReadToEnd(t, "orders.eu"); len(recs) != 1 || string(recs[0].Value) != "v" {
		t.Errorf("orders.eu holds %v, want only the one record sent: the refused batch sent nothing", recs)
	}

	for _, path := range []string{"/healthz", "/openapi.json", "/console"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s without a token: %d, want it open", path, resp.StatusCode)
		}
	}
}

// TestOpenAPINamesEachScope: each guarded operation of the OpenAPI
// document names, in its bearer security requirement, the scope the rule
// gives its route (none for whoami), so that the document cannot drift
// from what is checked.
func TestOpenAPINamesEachScope(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	guarded := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			route := strings.ToUpper(method) + " " + path
			var named []string
			found := false
			for _, req := range op.Security {
				if s, ok := req["bearer"]; ok {
					named, found = s, true
				}
			}
			if !found {
				continue // open unless HTTP_AUTH_TOKEN_PROTECT_ALL
			}
			guarded++
			want, _ := apicontract.RouteScope(route)
			if wantList := slices.DeleteFunc([]string{string(want)}, func(s string) bool { return s == "" }); !slices.Equal(named, wantList) {
				t.Errorf("openapi.json: %s names the scopes %q, the rule says %q", route, named, wantList)
			}
		}
	}
	if guarded < 12 {
		t.Errorf("only %d guarded operations in openapi.json", guarded)
	}
}
