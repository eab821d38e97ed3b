package apicontract

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secretToken is a token the tests look for in every error text.
const secretToken = "s3cr3t-TOKEN-never-shown_0123456789"

func TestRouteScope(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		want    Scope
		ok      bool
	}{
		{"GET /kafka/topics", ScopeRead, true},
		{"GET /kafka/topics/{topic}/messages", ScopeRead, true},
		{"HEAD /kafka/groups/{group}", ScopeRead, true},
		{"GET /kafka/consumers", ScopeRead, true},
		{"GET /kafka/live", ScopeRead, true},
		{"GET /metrics", ScopeRead, true},
		{"GET /{$}", ScopeRead, true},
		{"GET /kafka/whoami", ScopeAny, true},
		{"POST /kafka/send", ScopeSend, true},
		{"POST /kafka/send-batch", ScopeSend, true},
		{"POST /kafka/stream", ScopeSend, true},
		{"POST /kafka/send/{topic}", ScopeSend, true},
		{"POST /kafka/dlq/{topic}/replay", ScopeReplay, true},
		{"POST /kafka/topics", ScopeAdmin, true},
		{"PATCH /kafka/topics/{topic}", ScopeAdmin, true},
		{"DELETE /kafka/topics/{topic}", ScopeAdmin, true},
		{"PUT /kafka/topics/{topic}/configs", ScopeAdmin, true},
		{"POST /kafka/groups/{group}/reset", ScopeAdmin, true},
		{"DELETE /kafka/groups/{group}", ScopeAdmin, true},
		{"POST /kafka/queues/{group}/receive", ScopeConsume, true},
		{"POST /kafka/queues/{group}/ack", ScopeConsume, true},
		{"GET /kafka/queues/{group}", ScopeConsume, true},
		// No rule: refused to everyone.
		{"DELETE /kafka/dlq/{topic}", "", false},
		{"POST /kafka/dlq/{topic}", "", false},
		{"POST /kafka/sendx", "", false},
		{"POST /kafka/topicsx", "", false},
		{"PUT /kafka/send", "", false},
		{"OPTIONS /kafka/topics", "", false},
		{"POST /kafka/live", "", false},
		{"/kafka/topics", "", false},
		{"GET kafka/topics", "", false},
	} {
		got, ok := RouteScope(tt.pattern)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RouteScope(%q) = %q, %t; want %q, %t", tt.pattern, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFullScopes(t *testing.T) {
	g, err := ParseScopes("x", FullScopes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(FullScopes, g.Scopes()); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	for _, s := range Scopes {
		if !g.HasFor(s, "any.topic") {
			t.Errorf("FullScopes lack %s", s)
		}
	}
	if g.HasFor(ScopeSend, "__kafkakit_idempotency") {
		t.Error("send:* covers kafkakit's Idempotency-Key topic")
	}
}

func TestGrantScopesEachGrantOnlyItself(t *testing.T) {
	g, err := ParseScopes("orders", []string{"admin", "send:orders.*", "send:audit", "consume:jobs"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		scope Scope
		topic string
		want  bool
	}{
		{ScopeAdmin, "", true},
		{ScopeRead, "", false},
		{ScopeReplay, "", false},
		{ScopeSend, "orders.eu", true},
		{ScopeSend, "audit", true},
		{ScopeSend, "audit.x", false},
		{ScopeSend, "orders", false},
		{ScopeSend, "payments", false},
		{ScopeConsume, "jobs", true},
		{ScopeConsume, "orders.eu", false},
		{ScopeAny, "", true},
	} {
		if got := g.HasFor(tt.scope, tt.topic); got != tt.want {
			t.Errorf("HasFor(%s, %q) = %t, want %t", tt.scope, tt.topic, got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"send:orders.*", "send:audit", "consume:jobs", "admin"}, g.Scopes()); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestReadTokens(t *testing.T) {
	file := `# kafkakit tokens: <name> <token> <scope>[,<scope>...]

orders    ordersToken-0123456789   send:orders.*,read
  # an indented comment
ops	opsToken-0123456789abc==	admin,replay,read
reader readerToken-0123456789 read   
`
	tokens, err := ReadTokens(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 3 {
		t.Fatalf("%d tokens, want 3", tokens.Len())
	}
	for _, tt := range []struct{ token, name string }{
		{"ordersToken-0123456789", "orders"},
		{"opsToken-0123456789abc==", "ops"},
		{"readerToken-0123456789", "reader"},
	} {
		g := tokens.lookup(tt.token)
		if g == nil || g.Name() != tt.name {
			t.Errorf("token of %s: got %v", tt.name, g)
		}
	}
	if g := tokens.lookup("ordersToken-012345678"); g != nil {
		t.Errorf("a prefix of a token is %s's", g.Name())
	}
}

// TestReadTokensBadLines: each bad line is an error naming its line and
// what is wrong, never what the line says.
func TestReadTokensBadLines(t *testing.T) {
	good := "ok okToken-0123456789abcdef read\n"
	for _, tt := range []struct {
		name, line, want string
	}{
		{"two fields", "alice " + secretToken, "has 2 fields, want 3"},
		{"four fields", "alice " + secretToken + " read admin", "has 4 fields, want 3"},
		{"fields out of order", "alice read " + secretToken, "the token (second field) is shorter than 16"},
		{"scope where the token goes", "alice read,admin " + secretToken, "the token (second field) is not a bearer token"},
		{"bad name", "al/ice " + secretToken + " read", "the name (first field) is not"},
		{"short token", "alice short-token read", "shorter than 16 characters"},
		{"token with a quote", `alice ` + secretToken + `" read`, "is not a bearer token"},
		{"unknown scope", "alice " + secretToken + " read,write", "scope 2 of 2: not one of read, replay, admin"},
		{"empty scope", "alice " + secretToken + " read,", "scope 2 of 2: not one of"},
		{"send without pattern", "alice " + secretToken + " send", "send needs a topic pattern"},
		{"consume without pattern", "alice " + secretToken + " consume", "consume needs a topic pattern"},
		{"read with pattern", "alice " + secretToken + " read:orders", "read takes no topic pattern"},
		{"bad pattern", "alice " + secretToken + " send:ord/ers", "send's topic pattern is neither a topic name"},
		{"empty pattern", "alice " + secretToken + " send:", "send's topic pattern is neither"},
		{"duplicate name", "ok " + secretToken + " read", "the name is already another token's"},
		{"duplicate token", "bob okToken-0123456789abcdef read", "the token is already another name's"},
		{"long line", "alice " + secretToken + " read" + strings.Repeat(" ", MaxTokensLineBytes), "longer than 4096 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTokens(strings.NewReader("# tokens\n" + good + tt.line + "\n" + good))
			le, ok := errors.AsType[*LineError](err)
			if !ok {
				t.Fatalf("got %v, want a *LineError", err)
			}
			if le.Line != 3 || !strings.HasPrefix(err.Error(), "line 3: ") {
				t.Errorf("got %q (line %d), want line 3", err, le.Line)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), "okToken") {
				t.Errorf("the error shows a token: %q", err)
			}
		})
	}
}

func TestReadTokensTooLarge(t *testing.T) {
	line := "# " + strings.Repeat("x", 1000) + "\n"
	_, err := ReadTokens(strings.NewReader(strings.Repeat(line, MaxTokensFileBytes/len(line)+1)))
	if err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("got %v, want the file refused as too large", err)
	}
}

func TestReadTokensEmptyIsNoToken(t *testing.T) {
	tokens, err := ReadTokens(strings.NewReader("# nobody yet\n\n"))
	if err != nil || tokens.Len() != 0 {
		t.Fatalf("got %v, %v", tokens, err)
	}
}
