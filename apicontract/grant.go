package apicontract

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kafkakit/kafkakit/config"
)

// Grant is what one caller may do: its name, which is logged in its
// token's stead, and its scopes. A Grant does not change once made; it is
// safe for concurrent use.
type Grant struct {
	name   string
	held   map[Scope]bool
	topics map[Scope][]string // send and consume: the patterns held
	filter map[Scope]*TopicFilter
}

// FullScopes are the scopes of HTTP_AUTH_TOKEN, and of every caller when
// no token is configured: every power, for every topic.
var FullScopes = []string{"read", "send:*", "consume:*", "replay", "admin"}

// ParseScopes returns the grant of name holding scopes, each "read",
// "replay", "admin", "send:<topic pattern>" or "consume:<topic pattern>",
// a pattern being a topic name, "prefix*" (topics that start with
// prefix) or "*" (every topic). The error names a bad scope by its
// position only, never its text: in a mistyped line of a tokens file,
// what stands in the scopes' place may be the token.
func ParseScopes(name string, scopes []string) (*Grant, error) {
	g := &Grant{name: name, held: map[Scope]bool{}, topics: map[Scope][]string{}, filter: map[Scope]*TopicFilter{}}
	if len(scopes) == 0 {
		return nil, errors.New("no scope")
	}
	for i, s := range scopes {
		if err := g.add(s); err != nil {
			return nil, fmt.Errorf("scope %d of %d: %w", i+1, len(scopes), err)
		}
	}
	g.compile()
	return g, nil
}

// compile makes the topic filters of the send and consume patterns held.
func (g *Grant) compile() {
	for s, patterns := range g.topics {
		if slices.Contains(patterns, "*") {
			g.filter[s] = nil // every topic
		} else {
			g.filter[s] = NewTopicFilter(patterns)
		}
	}
}

// add adds one scope as written.
func (g *Grant) add(s string) error {
	kind, pattern, topical := strings.Cut(s, ":")
	scope := Scope(kind)
	switch {
	case !slices.Contains(Scopes, scope) || scope == ScopeAny:
		return errors.New("not one of read, replay, admin, send:<topic pattern>, consume:<topic pattern>")
	case scope.topical() != topical:
		if topical {
			return fmt.Errorf("%s takes no topic pattern", scope)
		}
		return fmt.Errorf("%s needs a topic pattern (%s:<topic>, %s:<prefix>*, or %s:* for every topic)", scope, scope, scope, scope)
	case topical:
		if err := validPattern(pattern); err != nil {
			return fmt.Errorf("%s's topic pattern %w", scope, err)
		}
		if !slices.Contains(g.topics[scope], pattern) {
			g.topics[scope] = append(g.topics[scope], pattern)
		}
	}
	g.held[scope] = true
	return nil
}

// validPattern checks a topic pattern: a topic name, prefix* or *.
func validPattern(pattern string) error {
	name, wild := strings.CutSuffix(pattern, "*")
	if wild && name == "" {
		return nil
	}
	if err := config.ValidateTopic(name); err != nil {
		return errors.New("is neither a topic name, nor <prefix>*, nor *")
	}
	return nil
}

// ClaimedGrant returns the grant of name holding those of scopes that
// ParseScopes reads, ignoring the others: an identity provider's token
// carries scopes meant for other services too (openid, profile, ...). It
// may hold no scope: such a caller may ask GET /kafka/whoami, nothing
// else.
func ClaimedGrant(name string, scopes []string) *Grant {
	g := &Grant{name: name, held: map[Scope]bool{}, topics: map[Scope][]string{}, filter: map[Scope]*TopicFilter{}}
	for _, s := range scopes {
		_ = g.add(s) // not kafkakit's: ignored
	}
	g.compile()
	return g
}

// FullGrant returns the grant of name holding FullScopes: every power.
func FullGrant(name string) *Grant {
	g, _ := ParseScopes(name, FullScopes) // FullScopes are valid: TestFullScopes
	return g
}

// Name is the name the caller's token was given, what logs name.
func (g *Grant) Name() string { return g.name }

// Has reports whether the grant holds scope, for at least one topic when
// the scope is held for topic patterns. Every grant has ScopeAny.
func (g *Grant) Has(scope Scope) bool { return scope == ScopeAny || g != nil && g.held[scope] }

// HasFor reports whether the grant holds scope for topic: for send and
// consume, a pattern of the scope matches topic; for the others, Has.
// The allowlist (HTTP_ALLOWED_TOPICS) is checked apart from this.
func (g *Grant) HasFor(scope Scope, topic string) bool {
	if !g.Has(scope) {
		return false
	}
	if !scope.topical() {
		return true
	}
	return g.filter[scope].Allows(topic)
}

// Scopes returns the grant's scopes as written: read, replay and admin,
// and send:<pattern> and consume:<pattern> for each pattern held, in the
// order of the Scopes list.
func (g *Grant) Scopes() []string {
	out := []string{} // none is [], not null, in JSON
	for _, s := range Scopes {
		switch {
		case !g.Has(s):
		case s.topical():
			for _, p := range g.topics[s] {
				out = append(out, string(s)+":"+p)
			}
		default:
			out = append(out, string(s))
		}
	}
	return out
}
