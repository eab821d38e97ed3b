package apicontract

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/kafkakit/kafkakit/config"
)

// DefaultTokenName is the name HTTP_AUTH_TOKEN's caller is logged as.
const DefaultTokenName = "default"

// AnonymousName is the caller's name when no token is configured.
const AnonymousName = "anonymous"

// Guard decides who a request comes from, by its bearer token, and
// whether the route it takes allows them: the one check both HTTP
// surfaces (httpapi's routes and admin's) put in front of every route
// they serve that is not open. It is safe for concurrent use; Store
// swaps its tokens while requests are checked, each request being
// checked against one set, the old or the new.
type Guard struct {
	// tokens is the set in use; nil, with no verifier, lets everyone do
	// everything, as anonymous.
	tokens atomic.Pointer[Tokens]
	// verifier, when set, checks a token that is none of tokens.
	verifier Verifier
}

// Verifier checks a bearer token that is none of a Guard's Tokens: a
// JWT an identity provider signed (HTTP_OIDC_ISSUER), whose claims say
// who it is and what it may do.
type Verifier interface {
	// Verify returns the grant of token, or an error when it is not
	// valid. It must return within a bound of its own: the request
	// waits for it.
	Verify(ctx context.Context, token string) (*Grant, error)
}

// WithVerifier makes g check with v each token that is none of its
// Tokens, and returns g. Call it before g checks its first request.
func (g *Guard) WithVerifier(v Verifier) *Guard {
	g.verifier = v
	return g
}

// NewGuard returns a guard checking tokens; nil lets every request
// through with every power, as "anonymous".
func NewGuard(tokens *Tokens) *Guard {
	g := &Guard{}
	g.tokens.Store(tokens)
	return g
}

// SingleToken returns a guard of one token with every power (FullScopes),
// named DefaultTokenName: HTTP_AUTH_TOKEN alone. An empty token lets
// everyone through.
func SingleToken(token config.Secret) *Guard {
	if token.Reveal() == "" {
		return NewGuard(nil)
	}
	t := NewTokens()
	_ = t.Add(token, FullGrant(DefaultTokenName)) // the first token: no clash
	return NewGuard(t)
}

// Store makes tokens the set checked from now on. Requests being checked
// finish with the set they started with.
func (g *Guard) Store(tokens *Tokens) { g.tokens.Store(tokens) }

// grantKey is the context key of the caller's Grant.
type grantKey struct{}

// GrantOf returns the grant Guard found for the request ctx belongs to;
// nil, which has no scope, for a context no Guard has seen.
func GrantOf(ctx context.Context) *Grant {
	g, _ := ctx.Value(grantKey{}).(*Grant)
	return g
}

// Authenticate returns r carrying its caller's grant (see GrantOf) and
// name (see CallerName), or answers 401 and returns false when r's
// bearer token is missing or unknown. A request already authenticated is
// returned as it is.
func (g *Guard) Authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if GrantOf(r.Context()) != nil {
		return r, true
	}
	grant := g.identify(r)
	if grant == nil {
		WriteUnauthorized(w)
		return r, false
	}
	ctx := context.WithValue(WithCaller(r.Context(), grant.name), grantKey{}, grant)
	return r.WithContext(ctx), true
}

// identify returns the grant of r's bearer token, the scheme compared
// case-insensitively (RFC 7235); nil when there is none.
func (g *Guard) identify(r *http.Request) *Grant {
	tokens := g.tokens.Load()
	if tokens == nil && g.verifier == nil {
		return anonymous
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	token = strings.TrimSpace(token)
	if grant := tokens.lookup(token); grant != nil || g.verifier == nil || strings.Count(token, ".") != 2 {
		return grant // a JWT has three parts
	}
	grant, err := g.verifier.Verify(r.Context(), token)
	if err != nil {
		return nil
	}
	return grant
}

// anonymous is every caller's grant when no token is configured.
var anonymous = FullGrant(AnonymousName)

// Allows reports whether r's bearer token is known and holds scope,
// without answering: for a page that shows more to a caller who may see
// it.
func (g *Guard) Allows(r *http.Request, scope Scope) bool {
	grant := GrantOf(r.Context())
	if grant == nil {
		grant = g.identify(r)
	}
	return grant != nil && grant.Has(scope)
}

// Route returns next behind the guard, for the route of pattern (a
// ServeMux pattern): a request whose token is missing or unknown is
// answered 401, one whose token lacks the scope RouteScope names 403
// insufficient_scope naming it; a route RouteScope has no rule for is
// refused to everyone with 403. Others reach next carrying their grant,
// which handlers of send and consume routes check for the topics asked
// for (CheckTopic).
func (g *Guard) Route(pattern string, next http.Handler) http.Handler {
	scope, ruled := RouteScope(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := g.Authenticate(w, r)
		switch {
		case !ok:
		case !ruled:
			WriteError(w, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "no scope grants " + pattern})
		case !GrantOf(r.Context()).Has(scope):
			// RFC 6750's challenge names the scope missing too.
			w.Header().Set("WWW-Authenticate", `Bearer realm="kafkakit", error="insufficient_scope", scope="`+string(scope)+`"`)
			WriteError(w, MissingScope(scope, ""))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// MissingScope is the 403 of a caller that lacks scope, for topic when
// the scope is held for topic patterns: it names the scope missing,
// "send:<topic>" for a topic, and nothing of which tokens exist.
func MissingScope(scope Scope, topic string) *Error {
	e := &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope}
	want := string(scope)
	if topic != "" {
		want += ":" + topic
		e.Field = "topic"
	}
	e.Message = "the token does not have the scope " + strconv.Quote(want)
	return e
}

// CheckTopic returns nil when the caller of ctx holds scope for topic
// (see Grant.HasFor), else MissingScope's 403 naming scope:topic.
func CheckTopic(ctx context.Context, scope Scope, topic string) *Error {
	if GrantOf(ctx).HasFor(scope, topic) {
		return nil
	}
	return MissingScope(scope, topic)
}

// WhoAmI answers GET /kafka/whoami: the caller's name and scopes,
// {"name":"orders","scopes":["read","send:orders.*"]}, so that a client
// (the console) offers only what its token may do.
func WhoAmI(w http.ResponseWriter, r *http.Request) {
	g := GrantOf(r.Context())
	if g == nil {
		WriteUnauthorized(w)
		return
	}
	WriteJSON(w, http.StatusOK, struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}{g.Name(), g.Scopes()})
}
