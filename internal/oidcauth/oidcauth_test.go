package oidcauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/oidcauth/oidctest"
)

func TestVerify(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v, err := New(t.Context(), Config{Issuer: is.URL, Audience: "kafkakit"})
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(map[string]any)) map[string]any {
		c := is.Claims("kafkakit", "openid read send:orders.*")
		change(c)
		return c
	}
	for _, tt := range []struct {
		name   string
		token  string
		scopes []string // nil: refused
	}{
		{"scopes as a string", is.Sign(t, "k1", with(func(map[string]any) {})), []string{"read", "send:orders.*"}},
		{"scopes as an array", is.Sign(t, "k1", with(func(c map[string]any) { c["scope"] = []string{"replay", "profile", "send:"} })), []string{"replay"}},
		{"no scope claim", is.Sign(t, "k1", with(func(c map[string]any) { delete(c, "scope") })), []string{}},
		{"audience among several", is.Sign(t, "k1", with(func(c map[string]any) { c["aud"] = []string{"other", "kafkakit"} })), []string{"read", "send:orders.*"}},
		{"expired", is.Sign(t, "k1", with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), nil},
		{"another audience", is.Sign(t, "k1", with(func(c map[string]any) { c["aud"] = "other" })), nil},
		{"another issuer", is.Sign(t, "k1", with(func(c map[string]any) { c["iss"] = "http://127.0.0.1:1" })), nil},
		{"a key not the issuer's", is.Sign(t, "k1-forged", with(func(map[string]any) {})), nil},
		{"scopes of another type", is.Sign(t, "k1", with(func(c map[string]any) { c["scope"] = 42 })), nil},
		{"not a token", "a.b.c", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := v.Verify(t.Context(), tt.token)
			if tt.scopes == nil {
				if err == nil {
					t.Fatalf("got %v, want the token refused", g.Scopes())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.scopes, g.Scopes()); diff != "" || g.Name() != "svc-orders" {
				t.Errorf("%s: scopes (-want +got):\n%s", g.Name(), diff)
			}
		})
	}
}

// TestRotatedKeyIsFetched: a token signed by a key the issuer published
// after start-up is accepted, the keys fetched again; tokens naming keys
// that do not exist make no more than one fetch per refetchEvery.
func TestRotatedKeyIsFetched(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v, err := New(t.Context(), Config{Issuer: is.URL, Audience: "kafkakit"})
	if err != nil {
		t.Fatal(err)
	}
	before := is.Fetches.Load()
	is.AddKey(t, "k2")
	if _, err := v.Verify(t.Context(), is.Sign(t, "k2", is.Claims("kafkakit", "read"))); err != nil {
		t.Fatalf("a token of a rotated key: %v", err)
	}
	for i := range 20 {
		if _, err := v.Verify(t.Context(), is.Sign(t, "made-up-"+string(rune('a'+i)), is.Claims("kafkakit", "read"))); err == nil {
			t.Fatal("a token of a made up key was accepted")
		}
	}
	if n := is.Fetches.Load() - before; n != 1 {
		t.Errorf("the keys were fetched %d times, want once: for the rotated key, then not again within %v", n, refetchEvery)
	}
}

func TestNewRefusesAnIssuerItCannotRead(t *testing.T) {
	is := oidctest.NewIssuer(t)
	for _, issuer := range []string{"http://127.0.0.1:1", is.URL + "/other"} {
		if _, err := New(t.Context(), Config{Issuer: issuer, Audience: "kafkakit"}); err == nil || !strings.HasPrefix(err.Error(), "oidcauth: ") {
			t.Errorf("issuer %s: got %v, want an error", issuer, err)
		}
	}
}

// TestGuardTakesJWTs: a Guard with the verifier lets a valid JWT through
// with its scopes, and refuses a forged one 401, over HTTP.
func TestGuardTakesJWTs(t *testing.T) {
	is := oidctest.NewIssuer(t)
	v, err := New(t.Context(), Config{Issuer: is.URL, Audience: "kafkakit"})
	if err != nil {
		t.Fatal(err)
	}
	g := apicontract.NewGuard(apicontract.NewTokens()).WithVerifier(v)
	mux := http.NewServeMux()
	mux.Handle(apicontract.WhoAmIRoute, g.Route(apicontract.WhoAmIRoute, http.HandlerFunc(apicontract.WhoAmI)))
	mux.Handle("GET /kafka/topics", g.Route("GET /kafka/topics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ask := func(path, token string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	sender := is.Sign(t, "k1", is.Claims("kafkakit", "openid send:orders.*"))
	if status, body := ask("/kafka/whoami", sender); status != 200 || body != `{"name":"svc-orders","scopes":["send:orders.*"]}` {
		t.Errorf("whoami: %d %s", status, body)
	}
	if status, body := ask("/kafka/whoami", is.Sign(t, "k1", is.Claims("kafkakit", "openid profile"))); status != 200 || body != `{"name":"svc-orders","scopes":[]}` {
		t.Errorf("whoami of a JWT with none of kafkakit's scopes: %d %s", status, body)
	}
	if status, body := ask("/kafka/topics", sender); status != 403 || !strings.Contains(body, `scope \"read\"`) {
		t.Errorf("a JWT without read: %d %s, want 403 naming read", status, body)
	}
	if status, _ := ask("/kafka/topics", is.Sign(t, "k1", is.Claims("kafkakit", "read"))); status != 200 {
		t.Errorf("a JWT with read: %d", status)
	}
	if status, _ := ask("/kafka/topics", is.Sign(t, "forged", is.Claims("kafkakit", "read"))); status != 401 {
		t.Errorf("a forged JWT: %d, want 401", status)
	}
}
