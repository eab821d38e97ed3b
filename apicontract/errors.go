package apicontract

// Error codes in {"error":{"code":...}}. Clients branch on these, so they
// are part of the API.
const (
	CodeInvalidRequest    = "invalid_request"    // 400: bad JSON or a bad field
	CodeUnauthorized      = "unauthorized"       // 401: missing or wrong token
	CodeForbidden         = "forbidden"          // 403: topic not allowed here, denied by the broker, or a route no scope grants
	CodeInsufficientScope = "insufficient_scope" // 403: the token lacks the scope the route or topic needs, which the message names
	CodeNotFound          = "not_found"          // 404: no such route
	CodeUnknownTopic      = "unknown_topic"      // 404: the cluster has no such topic
	CodeMethodNotAllowed  = "method_not_allowed" // 405
	CodeTooLarge          = "payload_too_large"  // 413: body over HTTP_MAX_BODY_BYTES, a record over KAFKA_BATCH_SIZE, or one the broker finds too large
	CodeUnsupportedMedia  = "unsupported_media"  // 415: not application/json
	CodeOverloaded        = "overloaded"         // 503: too much in flight; retry after Retry-After
	CodeShuttingDown      = "shutting_down"      // 503
	CodeCanceled          = "canceled"           // 503: the client went away; the message may still be delivered
	CodeBrokerError       = "broker_error"       // 502: the broker refused
	CodeBrokerUnavailable = "broker_unavailable" // 503 when no broker has been reachable for a while (retry after Retry-After), 502 when one connection failed
	CodeTimeout           = "timeout"            // 504: no acknowledgement in time; the message may still arrive
	CodeNotReady          = "not_ready"          // 503 from /readyz

	CodeIdempotencyConflict = "idempotency_conflict" // 409: a request with this Idempotency-Key is in flight
	CodeIdempotencyMismatch = "idempotency_mismatch" // 422: this Idempotency-Key was used with another request

	CodeInvalidReceipt         = "invalid_receipt"          // 400: a receipt this service did not issue, or issued for another group
	CodeAlreadyAcknowledged    = "already_acknowledged"     // 409: the receipt's record was already given an outcome
	CodeLeaseExpired           = "lease_expired"            // 410: the receipt's lease ended; the record is back in the queue
	CodeLeaseLost              = "lease_lost"               // 410: the member that held the lease is gone; the record is back in the queue
	CodeShareGroupsUnsupported = "share_groups_unsupported" // 501: the cluster has no share groups (KIP-932)
	CodeHolderUnavailable      = "holder_unavailable"       // 503: the replica holding the receipt's lease did not answer
)

// Error is an API error, the body of every non-2xx answer.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, e.g. "topic" or
	// "messages[3].partition".
	Field string `json:"field,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// WithField returns a copy of e with its field prefixed, e.g. "topic"
// becoming "messages[3].topic".
func (e *Error) WithField(prefix string) *Error {
	cp := *e
	if cp.Field == "" {
		cp.Field = prefix
	} else {
		cp.Field = prefix + "." + cp.Field
	}
	return &cp
}
