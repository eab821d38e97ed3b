// Package admin is the inspecting side of kafkakit's HTTP API: topics with their
// partitions, offsets and retention, a page of a topic's messages, and
// consumer groups with their lag. It answers in JSON, with errors in the
// same {"error":{"code","message","field"}} shape as package httpapi, and
// sits behind the same bearer token and topic allowlist as the send
// routes. It also summarizes and replays dead letters through package
// dlq. The web console (package console) is built on it.
package admin
