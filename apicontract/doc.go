// Package apicontract is what kafkakit's two HTTP surfaces, httpapi's
// send routes and admin's routes, promise alike: the error envelope every
// refusal is written in ({"error":{"code","message","field"}}, see
// [Error] and the Code constants), how a JSON answer is written, who may
// do what (bearer tokens with scopes, [Guard], the one rule of which
// scope a route needs, [RouteScope], and the tokens file, [ReadTokens])
// and the topic allowlist (HTTP_ALLOWED_TOPICS).
// Both packages import it; it imports neither.
package apicontract
