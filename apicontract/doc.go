// Package apicontract is what kafkakit's two HTTP surfaces, httpapi's
// send routes and admin's routes, promise alike: the error envelope every
// refusal is written in ({"error":{"code","message","field"}}, see
// [Error] and the Code constants), how a JSON answer is written, the
// bearer token check and the topic allowlist (HTTP_ALLOWED_TOPICS).
// Both packages import it; it imports neither.
package apicontract
