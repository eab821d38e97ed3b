package apicontract

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	readerToken = "readerToken-0123456789"
	senderToken = "senderToken-0123456789"
)

func mustTokens(t *testing.T, file string) *Tokens {
	t.Helper()
	tokens, err := ReadTokens(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// serveGuarded serves a few routes behind g on 127.0.0.1: each answers
// its caller's name, the send route after checking the topic of its
// ?topic= against the caller's send patterns.
func serveGuarded(t *testing.T, g *Guard) string {
	t.Helper()
	mux := http.NewServeMux()
	for _, pattern := range []string{"GET /kafka/topics", "POST /kafka/dlq/{topic}/replay", "POST /kafka/nothing"} {
		mux.Handle(pattern, g.Route(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"caller": CallerName(r.Context())})
		})))
	}
	mux.Handle("POST /kafka/send", g.Route("POST /kafka/send", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := CheckTopic(r.Context(), ScopeSend, r.URL.Query().Get("topic")); e != nil {
			WriteError(w, e)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"caller": CallerName(r.Context())})
	})))
	mux.Handle(WhoAmIRoute, g.Route(WhoAmIRoute, http.HandlerFunc(WhoAmI)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

type answer struct {
	status    int
	challenge string
	body      map[string]any
}

func ask(t *testing.T, method, url, authorization string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, url, b)
	}
	return a
}

func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (a answer) message() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func TestGuardChecksTokenAndScope(t *testing.T) {
	g := NewGuard(mustTokens(t, "reader "+readerToken+" read\nsender "+senderToken+" send:orders.*\n"))
	url := serveGuarded(t, g)
	for _, tt := range []struct {
		name, method, path, auth string
		status                   int
		code, says, challenge    string
	}{
		{"no token", "GET", "/kafka/topics", "", 401, CodeUnauthorized, "missing or wrong bearer token", `Bearer realm="kafkakit"`},
		{"unknown token", "GET", "/kafka/topics", "Bearer nobodyToken-0123456789", 401, CodeUnauthorized, "", `Bearer realm="kafkakit"`},
		{"other scheme", "GET", "/kafka/topics", "Basic " + readerToken, 401, CodeUnauthorized, "", ""},
		{"reader reads", "GET", "/kafka/topics", "Bearer " + readerToken, 200, "", "", ""},
		{"scheme in any case", "GET", "/kafka/topics", "bEARER " + readerToken, 200, "", "", ""},
		{"reader may not send", "POST", "/kafka/send?topic=orders.eu", "Bearer " + readerToken, 403, CodeInsufficientScope, `the token does not have the scope "send"`,
			`Bearer realm="kafkakit", error="insufficient_scope", scope="send"`},
		{"reader may not replay", "POST", "/kafka/dlq/x/replay", "Bearer " + readerToken, 403, CodeInsufficientScope, `scope "replay"`, ""},
		{"sender sends to its topics", "POST", "/kafka/send?topic=orders.eu", "Bearer " + senderToken, 200, "", "", ""},
		{"sender may not send elsewhere", "POST", "/kafka/send?topic=payments", "Bearer " + senderToken, 403, CodeInsufficientScope, `the token does not have the scope "send:payments"`, ""},
		{"sender may not read", "GET", "/kafka/topics", "Bearer " + senderToken, 403, CodeInsufficientScope, `scope "read"`, ""},
		{"a route with no rule", "POST", "/kafka/nothing", "Bearer " + readerToken, 403, CodeForbidden, "no scope grants POST /kafka/nothing", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ask(t, tt.method, url+tt.path, tt.auth)
			if a.status != tt.status || a.code() != tt.code {
				t.Fatalf("got %d %v, want %d %s", a.status, a.body, tt.status, tt.code)
			}
			if !strings.Contains(a.message(), tt.says) {
				t.Errorf("message %q does not say %q", a.message(), tt.says)
			}
			if tt.challenge != "" && a.challenge != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", a.challenge, tt.challenge)
			}
			if strings.Contains(a.message(), "reader") || strings.Contains(a.message(), "Token-") {
				t.Errorf("the refusal names a token or its name: %q", a.message())
			}
		})
	}
	if a := ask(t, "GET", url+"/kafka/topics", "Bearer "+readerToken); a.body["caller"] != "reader" {
		t.Errorf("the handler saw caller %v, want reader", a.body["caller"])
	}
}

func TestWhoAmI(t *testing.T) {
	tokens := mustTokens(t, "sender "+senderToken+" send:orders.*,send:audit\n")
	if err := tokens.Add("allToken-0123456789", FullGrant(DefaultTokenName)); err != nil {
		t.Fatal(err)
	}
	url := serveGuarded(t, NewGuard(tokens))
	for _, tt := range []struct {
		auth   string
		name   string
		scopes []any
	}{
		{"Bearer " + senderToken, "sender", []any{"send:orders.*", "send:audit"}},
		{"Bearer allToken-0123456789", "default", []any{"read", "send:*", "consume:*", "replay", "admin"}},
	} {
		a := ask(t, "GET", url+"/kafka/whoami", tt.auth)
		if diff := cmp.Diff(map[string]any{"name": tt.name, "scopes": tt.scopes}, a.body); a.status != 200 || diff != "" {
			t.Errorf("whoami %d (-want +got):\n%s", a.status, diff)
		}
	}
	if a := ask(t, "GET", url+"/kafka/whoami", ""); a.status != 401 {
		t.Errorf("whoami without a token: %d", a.status)
	}
}

func TestGuardWithoutTokens(t *testing.T) {
	t.Run("none configured", func(t *testing.T) {
		url := serveGuarded(t, NewGuard(nil))
		a := ask(t, "POST", url+"/kafka/send?topic=anything", "")
		if a.status != 200 || a.body["caller"] != AnonymousName {
			t.Errorf("got %d %v, want 200 as anonymous", a.status, a.body)
		}
		if a := ask(t, "POST", url+"/kafka/nothing", ""); a.status != 403 {
			t.Errorf("a route with no rule: %d, want 403 even without tokens", a.status)
		}
	})
	t.Run("empty set", func(t *testing.T) {
		url := serveGuarded(t, NewGuard(NewTokens()))
		if a := ask(t, "GET", url+"/kafka/topics", ""); a.status != 401 {
			t.Errorf("got %d, want 401: an empty tokens file lets nobody in", a.status)
		}
	})
	t.Run("single token", func(t *testing.T) {
		url := serveGuarded(t, SingleToken("only-one"))
		if a := ask(t, "POST", url+"/kafka/send?topic=x", "Bearer only-one"); a.status != 200 || a.body["caller"] != DefaultTokenName {
			t.Errorf("got %d %v", a.status, a.body)
		}
		if a := ask(t, "GET", url+"/kafka/topics", "Bearer only-on"); a.status != 401 {
			t.Errorf("a wrong token: %d", a.status)
		}
	})
}

// TestGuardStoreUnderRequests swaps the tokens while requests run: each
// request is answered as one set or the other says, never otherwise.
func TestGuardStoreUnderRequests(t *testing.T) {
	before := mustTokens(t, "reader "+readerToken+" read\n")
	after := mustTokens(t, "reader "+readerToken+" read\nsender "+senderToken+" send:*\n")
	g := NewGuard(before)
	url := serveGuarded(t, g)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if a := ask(t, "GET", url+"/kafka/topics", "Bearer "+readerToken); a.status != 200 {
					t.Errorf("reader: %d", a.status)
					return
				}
			}
		})
	}
	for i := range 20 {
		if i%2 == 0 {
			g.Store(after)
		} else {
			g.Store(before)
		}
	}
	wg.Wait()
	g.Store(after)
	if a := ask(t, "POST", url+"/kafka/send?topic=t", "Bearer "+senderToken); a.status != 200 {
		t.Errorf("the new token after Store: %d", a.status)
	}
	g.Store(before)
	if a := ask(t, "POST", url+"/kafka/send?topic=t", "Bearer "+senderToken); a.status != 401 {
		t.Errorf("a removed token: %d, want 401", a.status)
	}
}
