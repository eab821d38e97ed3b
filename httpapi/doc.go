// Package httpapi is kafkakit's HTTP door into Kafka: POST /kafka/send and
// POST /kafka/send-batch, answered only once the broker acknowledged, with
// /healthz, /readyz, /metrics and /openapi.json beside them.
//
// Every error is JSON, {"error":{"code","message","field"}}, with an honest
// status: 400 for bad input (nothing is sent), 401, 403, 404, 405, 413, 415,
// 502 when the broker refuses, 503 when overloaded, 504 when the broker does
// not answer in time. The full contract is the OpenAPI document, served at
// /openapi.json and checked against the handler by its tests.
package httpapi
