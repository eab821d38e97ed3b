package service

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/internal/oidcauth/oidctest"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestOIDCTokens: with HTTP_OIDC_ISSUER set, serve accepts JWTs the
// issuer (served by the test on 127.0.0.1) signed for the audience, with
// the scopes of their claim, beside the tokens file's; a JWT for another
// audience or signed by another key is answered 401. No token is logged.
func TestOIDCTokens(t *testing.T) {
	is := oidctest.NewIssuer(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.eu", 1), kafkatest.Topic("payments", 1))
	url, _, sink := startService(t, c, map[string]string{
		"HTTP_TOKENS_FILE":       writeTokens(t, scopeTokens),
		"HTTP_OIDC_ISSUER":       is.URL,
		"HTTP_OIDC_AUDIENCE":     "kafkakit",
		"HTTP_OIDC_SCOPES_CLAIM": "permissions",
	})
	claims := is.Claims("kafkakit", nil)
	claims["permissions"] = []string{"read", "send:orders.*"}
	jwt := is.Sign(t, "k1", claims)
	if status, body := postAs(t, url+"/kafka/send", jwt, "application/json", `{"topic":"orders.eu","value":"v"}`); status != 200 {
		t.Errorf("a JWT with send:orders.*, to orders.eu: %d %v", status, body)
	}
	status, body := postAs(t, url+"/kafka/send", jwt, "application/json", `{"topic":"payments","value":"v"}`)
	if e, _ := body["error"].(map[string]any); status != 403 || e["code"] != apicontract.CodeInsufficientScope {
		t.Errorf("a JWT with send:orders.*, to payments: %d %v, want 403 insufficient_scope", status, body)
	}
	if a := askRoute(t, url, "GET /kafka/topics", jwt); a.status != 200 {
		t.Errorf("a JWT with read: %d %s", a.status, a.message)
	}
	if a := askRoute(t, url, "POST /kafka/dlq/{topic}/replay", jwt); a.status != 403 || !strings.Contains(a.message, `"replay"`) {
		t.Errorf("a JWT without replay: %d %s", a.status, a.message)
	}
	if a := askRoute(t, url, "GET /kafka/topics", "readerToken-0123456789"); a.status != 200 {
		t.Errorf("a token of the file beside OIDC: %d", a.status)
	}
	other := is.Claims("someone-else", nil)
	other["permissions"] = "read"
	for name, token := range map[string]string{"another audience": is.Sign(t, "k1", other), "another key": is.Sign(t, "unknown", claims)} {
		if a := askRoute(t, url, "GET /kafka/topics", token); a.status != http.StatusUnauthorized {
			t.Errorf("a JWT of %s: %d, want 401", name, a.status)
		}
	}
	sink.assertNoneShows(t, jwt)
	sink.assertNoneShows(t, "Token-0123456789")
}

func TestOIDCConfiguration(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HTTP_OIDC_ISSUER": "https://id.example"}, "HTTP_OIDC_AUDIENCE must be set with HTTP_OIDC_ISSUER"},
		{map[string]string{"HTTP_OIDC_ISSUER": "id.example", "HTTP_OIDC_AUDIENCE": "k"}, `HTTP_OIDC_ISSUER: "id.example" is not an http:// or https:// URL`},
		{map[string]string{"HTTP_OIDC_AUDIENCE": "k"}, `HTTP_OIDC_AUDIENCE: "k" is set but HTTP_OIDC_ISSUER is not`},
	} {
		_, err := FromEnv(env.Map(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.env, err, tt.want)
		}
	}
}

// TestOIDCIssuerUnreachableStopsStartUp: an issuer whose discovery
// document cannot be read stops start-up, naming the variable.
func TestOIDCIssuerUnreachableStopsStartUp(t *testing.T) {
	c := kafkatest.NewCluster(t)
	cfg, err := FromEnv(env.Map(map[string]string{"KAFKA_BROKERS": strings.Join(c.Addrs(), ","), "HTTP_ADDR": "127.0.0.1:0",
		"HTTP_OIDC_ISSUER": "http://127.0.0.1:1", "HTTP_OIDC_AUDIENCE": "kafkakit"}))
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	err = Run(t.Context(), cfg, sink.logger())
	if err == nil || !strings.HasPrefix(err.Error(), `HTTP_OIDC_ISSUER="http://127.0.0.1:1": oidcauth: `) {
		t.Errorf("got %v, want start-up stopped naming HTTP_OIDC_ISSUER", err)
	}
}
