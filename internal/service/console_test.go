package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestAdminAPIBehindTokenAndAllowlist: serve mounts the admin API behind
// HTTP_AUTH_TOKEN and HTTP_ALLOWED_TOPICS, next to the send routes.
func TestAdminAPIBehindTokenAndAllowlist(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("shown.a", 1), kafkatest.Topic("hidden", 1))
	url, _, _ := startService(t, c, map[string]string{"HTTP_AUTH_TOKEN": "tok", "HTTP_ALLOWED_TOPICS": "shown.*"})
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/kafka/topics", "", http.StatusUnauthorized},
		{"/kafka/topics", "tok", http.StatusOK},
		{"/kafka/topics/hidden", "tok", http.StatusForbidden},
		{"/kafka/topics/shown.a/messages", "tok", http.StatusOK},
		{"/kafka/groups", "tok", http.StatusOK},
		{"/kafka/consumers", "", http.StatusUnauthorized},
		{"/healthz", "", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || err != nil {
			t.Errorf("GET %s with token %q: got %d (%v), want %d", tc.path, tc.token, resp.StatusCode, err, tc.want)
		}
		if tc.path == "/kafka/topics" && resp.StatusCode == 200 {
			if topics := body["topics"].([]any); len(topics) != 1 {
				t.Errorf("topics %v, want only shown.a", topics)
			}
		}
	}
}

// TestConsoleServedUnlessOff: /console is the page, with its policy; with
// HTTP_CONSOLE=false it is no route.
func TestConsoleServedUnlessOff(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	for _, tc := range []struct {
		on   string
		want int
	}{{"", http.StatusOK}, {"false", http.StatusNotFound}} {
		url, _, _ := startService(t, c, map[string]string{"HTTP_CONSOLE": tc.on})
		resp, err := http.Get(url + "/console")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("HTTP_CONSOLE=%q: GET /console got %d, want %d", tc.on, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET /console has no Content-Security-Policy")
		}
	}
}

// TestServiceServesEveryDocumentedRoute: every operation of the OpenAPI
// document serve publishes is answered by a route of the running service
// (httpapi's or the admin API's), not by the answer to an unknown path or
// a wrong method. (httpapi's TestOpenAPIMatchesRoutes holds the converse:
// each route of both handlers is in the document.)
func TestServiceServesEveryDocumentedRoute(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("served.topic", 1))
	url, _, _ := startService(t, c, nil)
	resp, err := http.Get(url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method := range methods {
			ops++
			p := strings.NewReplacer("{topic}", "served.topic", "{group}", "nobody").Replace(path)
			if routed, answer := answeredByRoute(t, strings.ToUpper(method), url+p); !routed {
				t.Errorf("%s %s is documented, but the service answers %s", strings.ToUpper(method), p, answer)
			}
		}
	}
	if ops < 16 {
		t.Errorf("the served document has %d operations, want the send routes' and the admin API's", ops)
	}
	if routed, answer := answeredByRoute(t, http.MethodGet, url+"/kafka/nothing"); routed {
		t.Errorf("GET /kafka/nothing was answered %s, as if routed", answer)
	}
}

// answeredByRoute sends a request and reports whether a route took it:
// neither 405 nor the 404 of an unknown path. The body of a streamed
// answer (/kafka/live) is not waited for.
func answeredByRoute(t *testing.T, method, url string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(`{"dry_run":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode == http.StatusOK, resp.Status
	}
	body, _ := io.ReadAll(resp.Body)
	answer := resp.Status + " " + string(body)
	unknown := resp.StatusCode == http.StatusNotFound && strings.Contains(string(body), `"message":"no route `)
	return resp.StatusCode != http.StatusMethodNotAllowed && !unknown, answer
}

// TestRootLeadsSomewhere: GET / redirects to the console, and the start-up
// log line names the console's URL; with HTTP_CONSOLE=false, / answers a
// short JSON index of the routes and the log names no console. With
// HTTP_AUTH_TOKEN_PROTECT_ALL, / needs the token like every route.
func TestRootLeadsSomewhere(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url, token string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	url, _, sink := startService(t, c, nil)
	resp, _ := get(url+"/", "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console" {
		t.Errorf("GET /: got %d Location %q, want 302 to /console", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(url+"/console", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /console after the redirect: got %d", resp.StatusCode)
	}
	if line := sink.find("http server listening"); line == nil || line["console"] != url+"/console" {
		t.Errorf("start-up line %v, want console=%s/console", line, url)
	}

	url, _, sink = startService(t, c, map[string]string{"HTTP_CONSOLE": "false"})
	resp, body := get(url+"/", "")
	var index struct {
		Service, Console, OpenAPI string
		Routes                    []string
	}
	if err := json.Unmarshal(body, &index); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET / with the console off: got %d %s (%v), want 200 JSON", resp.StatusCode, body, err)
	}
	for _, want := range []string{"POST /kafka/send", "POST /kafka/stream", "GET /healthz", "GET /kafka/topics"} {
		if !slices.Contains(index.Routes, want) {
			t.Errorf("the index %v does not list %s", index.Routes, want)
		}
	}
	if index.OpenAPI != "/openapi.json" || !strings.Contains(index.Console, "HTTP_CONSOLE=false") {
		t.Errorf("index %+v", index)
	}
	if line := sink.find("http server listening"); line == nil || line["console"] != nil {
		t.Errorf("start-up line %v, want no console with HTTP_CONSOLE=false", line)
	}

	url, _, _ = startService(t, c, map[string]string{"HTTP_AUTH_TOKEN": "tok", "HTTP_AUTH_TOKEN_PROTECT_ALL": "true"})
	if resp, _ := get(url+"/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / without the token, everything protected: got %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(url+"/", "tok"); resp.StatusCode != http.StatusFound {
		t.Errorf("GET / with the token: got %d, want 302", resp.StatusCode)
	}
}

// TestEmbeddedListensOnLoopback: with the embedded broker HTTP_ADDR
// defaults to 127.0.0.1:8080, not every interface; set, it wins.
func TestEmbeddedListensOnLoopback(t *testing.T) {
	kafkatest.Parallel(t)
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ":8080"},
		{map[string]string{"KAFKA_BROKERS": "k1:9092"}, ":8080"},
		{map[string]string{"KAFKA_BROKERS": "embedded"}, "127.0.0.1:8080"},
		{map[string]string{"KAFKA_BROKERS": "embedded", "HTTP_ADDR": ""}, "127.0.0.1:8080"},
		{map[string]string{"KAFKA_BROKERS": "embedded", "HTTP_ADDR": ":9000"}, ":9000"},
		{map[string]string{"KAFKA_BROKERS": "k1:9092", "HTTP_ADDR": "127.0.0.1:9000"}, "127.0.0.1:9000"},
	} {
		cfg, err := FromEnv(env.Map(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTPAddr != tt.want {
			t.Errorf("%v: HTTP address %q, want %q", tt.env, cfg.HTTPAddr, tt.want)
		}
	}
}
