package apicontract

import (
	"net/http"
	"strings"
)

// Scope is a power a bearer token may hold. Each grants only itself:
// admin does not imply read, nor send consume.
type Scope string

// The scopes. Send and consume are held for topics matching patterns
// (send:orders.*); the others for every topic the allowlist shows.
const (
	// ScopeRead views: every GET (and HEAD) route, the console included.
	ScopeRead Scope = "read"
	// ScopeSend sends to the topics of its patterns: POST /kafka/send,
	// /kafka/send-batch and /kafka/stream.
	ScopeSend Scope = "send"
	// ScopeConsume receives from and acknowledges to the topics of its
	// patterns: every route under /kafka/queues/.
	ScopeConsume Scope = "consume"
	// ScopeReplay replays dead letters: POST /kafka/dlq/{topic}/replay.
	ScopeReplay Scope = "replay"
	// ScopeAdmin changes topics and groups: POST, PUT, PATCH and DELETE
	// under /kafka/topics and /kafka/groups.
	ScopeAdmin Scope = "admin"
	// ScopeAny is what GET /kafka/whoami needs: any known token, so that
	// a client can learn what its token may do whatever that is.
	ScopeAny Scope = ""
)

// Scopes lists every scope a token may hold, in the order whoami and the
// docs name them.
var Scopes = []Scope{ScopeRead, ScopeSend, ScopeConsume, ScopeReplay, ScopeAdmin}

// topical reports whether s is held for topic patterns.
func (s Scope) topical() bool { return s == ScopeSend || s == ScopeConsume }

// WhoAmIRoute is the route that tells a caller its token's name and
// scopes (see WhoAmI).
const WhoAmIRoute = "GET /kafka/whoami"

// RouteScope is the one rule that says which scope a route needs, given
// as its ServeMux pattern ("METHOD /path", path wildcards as {name}). It
// is decided from the method and the path alone, so that a route added
// later falls under the rule of its place: reads need read, sends send,
// a dead-letter replay replay, changes to topics and groups admin,
// queues consume. ok is false for a route no rule covers, which Guard
// refuses to everyone: a new kind of route is closed until the rule
// names it.
func RouteScope(pattern string) (scope Scope, ok bool) {
	method, path, found := strings.Cut(pattern, " ")
	if !found || !strings.HasPrefix(path, "/") {
		return "", false
	}
	switch {
	case pattern == WhoAmIRoute:
		return ScopeAny, true
	case under(path, "/kafka/queues"):
		return ScopeConsume, true
	case method == http.MethodGet || method == http.MethodHead:
		return ScopeRead, true
	case method == http.MethodPost && isSendPath(path):
		return ScopeSend, true
	case method == http.MethodPost && segmentsMatch(path, "/kafka/dlq/*/replay"):
		return ScopeReplay, true
	case isChange(method) && (under(path, "/kafka/topics") || under(path, "/kafka/groups")):
		return ScopeAdmin, true
	}
	return "", false
}

// isSendPath reports whether path is a send route: /kafka/stream,
// /kafka/send, or a path that starts /kafka/send- or /kafka/send/.
func isSendPath(path string) bool {
	return path == "/kafka/stream" || path == "/kafka/send" ||
		strings.HasPrefix(path, "/kafka/send-") || strings.HasPrefix(path, "/kafka/send/")
}

// isChange reports whether method changes state.
func isChange(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// segmentsMatch reports whether path has shape's segments, a "*" in
// shape standing for any one segment (a {wildcard} of a pattern, or a
// name in a request's path).
func segmentsMatch(path, shape string) bool {
	ps, ss := strings.Split(path, "/"), strings.Split(shape, "/")
	if len(ps) != len(ss) {
		return false
	}
	for i := range ss {
		if ss[i] != "*" && ss[i] != ps[i] {
			return false
		}
	}
	return true
}
