package apicontract

import "context"

// callerKey is the context key of the caller's name.
type callerKey struct{}

// WithCaller returns ctx carrying the name of whoever the request's
// bearer token says made it: the name the token was given, never the
// token itself, so that it can be logged.
func WithCaller(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, callerKey{}, name)
}

// CallerName returns the name WithCaller set on ctx, or "anonymous" when
// none was: no token is configured, or the request came another way.
func CallerName(ctx context.Context) string {
	if name, ok := ctx.Value(callerKey{}).(string); ok && name != "" {
		return name
	}
	return "anonymous"
}
