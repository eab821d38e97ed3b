// Package webhook is a consumer.Handler that POSTs each message to an HTTP
// endpoint as JSON, for services that would rather receive Kafka messages
// than consume them.
//
// The body ([Body]) is always valid UTF-8 JSON:
//
//	{"topic":"orders","partition":2,"offset":41,"timestamp":"2026-11-27T10:00:00.123Z",
//	 "key":"order-7","key_encoding":"string",
//	 "headers":[{"key":"tag","value":"a","value_encoding":"string"},
//	            {"key":"tag","value":"/w==","value_encoding":"base64"}],
//	 "value":{"total":12.5},"value_encoding":"json"}
//
// A value that is one JSON value in UTF-8 is embedded byte for byte
// ("json"); other UTF-8 is a string ("string"); anything else is base64
// ("base64"). Keys and header values are "string" or "base64". A null key,
// value or header value is null, and so is its encoding. Headers keep their
// order, duplicates and null values.
//
// A 2xx answer acknowledges the message. 5xx, 408, 429, timeouts and
// refused connections are worth retrying (429 and 503 honour Retry-After).
// A 3xx is a failure too, retried like a 5xx: redirects are never
// followed, because following one turns the POST into a GET without the
// message, and its 200 would acknowledge a message nobody received. The
// error names the Location. Any other 4xx is permanent, so the message goes
// straight to the dead-letter topic.
//
// A 2xx answer with an application/json body {"status": ...} directs the
// outcome, as Dapr's subscribers do: SUCCESS, RETRY (retried), DROP
// (an error matching [ErrDropped] and marked with [consumer.Skip]: the
// consumer logs it and commits it without a dead letter) or DEAD_LETTER
// (straight to the dead-letter topic).
// Any other body, an empty one included, is success.
//
// Every call carries kafkakit-attempt, kafkakit-topic, kafkakit-partition
// and kafkakit-offset. With [Sign], it is signed as Standard Webhooks 1.0
// says (webhook-id, webhook-timestamp, webhook-signature); the id is
// derived from the group, topic, partition and offset, so it is the same
// on every attempt. [Timeout] bounds each call, the answer's whole body
// included (default [DefaultTimeout]): an answer cut short by it, or by a
// broken connection, is a failed call, retried, whatever its status;
// [AddHeaders] adds headers, such as credentials, that never print. With
// [As]([FormatCloudEvents]) the call is a CloudEvents HTTP binary-mode
// request instead of a [Body].
package webhook
