// Package admin is the operating side of kafkakit's HTTP API: topics with their
// partitions, offsets and retention, a page of a topic's messages,
// consumer groups with their lag, and this instance's own consumers
// (GET /kafka/consumers, see Consumers); and the changes an operator
// makes: topics created, grown, reconfigured and deleted, consumer groups
// reset and deleted, each with a dry run where Kafka allows one, and each
// call logged once at INFO with its caller (see Logger) and counted (see
// Observer). It answers in JSON, with errors
// in the same {"error":{"code","message","field"}} shape as package
// httpapi, both written by package apicontract, and sits behind the same
// bearer tokens (see Guard: reads need the read scope, a replay replay)
// and topic allowlist as the send routes; GET /kafka/whoami tells a
// token its name and scopes. It also summarizes and replays dead letters through package
// dlq; a replay checks each letter's destination, the allowlist
// included, in the pass that sends it. The web console (package console)
// is built on it.
//
// Records read are untrusted and of any size: every request that reads
// them holds a bounded number of bytes (see PageBytes and MaxReadBytes),
// and requests beyond MaxInFlight are answered 503 with Retry-After.
package admin
