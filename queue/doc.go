// Package queue serves Kafka share groups (KIP-932) over HTTP as queues
// with leases: POST /kafka/queues/{group}/receive hands out records, each
// leased to the group for a while, and POST /kafka/queues/{group}/ack
// settles them by receipt: accept, release (deliver again now), reject
// (never again) or renew (extend the lease).
//
// The broker binds a lease to the member that fetched the record, so a
// receipt says which replica of the service holds it and is signed with
// a key the replicas share (HTTP_QUEUE_SECRET): any replica accepts any
// receipt of its cluster and forwards it to the holder
// (HTTP_ADVERTISED_URL). A client behind a load balancer never needs to
// reach the same replica twice.
//
// Each replica keeps share-group members (franz-go clients) per group and
// topic set, up to MaxMembers, and closes those idle for IdleTimeout.
// franz-go accepts, at a member's next poll, every record the previous
// poll returned and was not acknowledged, so a member polls again only
// once each record it handed out is settled or its lease has ended; it
// releases the latter first. docs/queues.md says what a receipt promises.
package queue
