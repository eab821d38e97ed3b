// Package httpapi is kafkakit's HTTP door into Kafka. Its routes:
//
//   - POST /kafka/send: one record, answered once the broker acknowledged
//     it; also a CloudEvent in structured mode (?topic=...).
//   - POST /kafka/send-batch: up to the batch limit, every message checked
//     before any is sent; "atomic": true sends them in one transaction.
//   - POST /kafka/stream: NDJSON in, one answer line per record out, in
//     request order, with a bounded window per stream.
//   - GET /healthz, /readyz, /metrics and /openapi.json, a document that
//     also describes the admin routes (package admin, which serves
//     GET /kafka/consumers among them).
//
// An Idempotency-Key header makes a send or batch answer the same way
// when repeated (the answers are kept by package idempotency), and
// Prefer: respond-async answers 202 once the record is buffered. The Go
// client of /kafka/stream is package streamclient. Who may send is an
// apicontract.Guard's to say (see Guard and AuthToken): a token with the
// send scope for each message's topic.
//
// Every error is JSON, {"error":{"code","message","field"}}, written by
// package apicontract, which holds the codes and writes admin's errors
// too, with an honest status: 400 for bad input (nothing is sent), 401, 403, 404, 405, 409 (an
// Idempotency-Key still in flight), 413, 415, 422 (an Idempotency-Key
// reused with another body), 503 when overloaded (with Retry-After),
// 502 when the broker refuses, 504 when the broker does not
// answer in time; 202 answers an accepted Prefer: respond-async send. The
// full contract is the OpenAPI document, served at /openapi.json and
// checked against the handler by its tests.
package httpapi
