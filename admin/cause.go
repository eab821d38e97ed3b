package admin

import (
	"fmt"
	"regexp"
	"strings"
)

// LetterFailure is what GET /kafka/dlq/{topic} reads of one dead
// letter's failure from its headers, beside the record itself.
type LetterFailure struct {
	// Exception is the exception's type: a Go type for kafkakit's dead
	// letters (kafka_dlt-exception-fqcn, such as *webhook.StatusError),
	// a Java class for Spring's and Kafka Connect's; cut to 256 bytes.
	Exception string `json:"exception"`
	// Cause is the failure in words, read from the type and message:
	// "HTTP 500 from the webhook", "timeout: no answer from the webhook
	// within 10s", "handler error" and the like.
	Cause string `json:"cause"`
}

// The messages of the webhook handler's errors that cause reads (package
// webhook writes them; its tests and this package's hold the two
// together).
var (
	webhookStatus  = regexp.MustCompile(`^webhook: endpoint answered (\d{3})\b(?: with status ([A-Z_]+))?`)
	webhookSilent  = regexp.MustCompile(`^webhook: no answer within ([0-9a-zµ.]+)`)
	webhookSlow    = regexp.MustCompile(`^webhook: answer (\d{3}) not complete within ([0-9a-zµ.]+)`)
	webhookCut     = regexp.MustCompile(`^webhook: answer (\d{3}) cut short`)
	webhookRefused = regexp.MustCompile(`^webhook: .*(connection refused|no such host|network is unreachable)`)
)

// cause is a dead letter's failure in words, from its exception type and
// message, as an operator would say it: "HTTP 500 from the webhook",
// "timeout: no answer from the webhook within 10s", "the handler
// panicked", or "handler error" for any other error of a Go handler
// (the message then says what it was). A Java exception class (Spring's
// or Kafka Connect's dead letters) reads as its simple name. Both inputs
// come from headers anyone may write: cause only reads them.
func cause(exception, message string) string {
	msg := strings.TrimPrefix(message, "permanent: ")
	if m := webhookStatus.FindStringSubmatch(msg); m != nil {
		switch {
		case m[2] != "":
			return fmt.Sprintf("the webhook answered HTTP %s asking for %s", m[1], m[2])
		case m[1][0] == '3':
			return fmt.Sprintf("HTTP %s from the webhook (a redirect, not followed)", m[1])
		}
		return fmt.Sprintf("HTTP %s from the webhook", m[1])
	}
	if m := webhookSilent.FindStringSubmatch(msg); m != nil {
		return "timeout: no answer from the webhook within " + m[1]
	}
	if m := webhookSlow.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("timeout: the webhook's answer (HTTP %s) did not end within %s", m[1], m[2])
	}
	if m := webhookCut.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("the webhook's answer (HTTP %s) was cut short", m[1])
	}
	if webhookRefused.MatchString(msg) {
		return "the webhook could not be reached"
	}
	switch {
	case exception == "" && message == "":
		return ""
	case exception == "*consumer.PanicError":
		return "the handler panicked"
	case strings.HasSuffix(msg, "context deadline exceeded"):
		return "timeout: the handler ran out of time"
	case strings.HasPrefix(msg, "webhook: "):
		return "the webhook call failed"
	case isJavaClass(exception):
		return exception[strings.LastIndexByte(exception, '.')+1:]
	}
	return "handler error"
}

// isJavaClass reports whether s reads as a Java class's qualified name,
// such as org.apache.kafka.connect.errors.DataException.
func isJavaClass(s string) bool {
	i := strings.LastIndexByte(s, '.')
	return i > 0 && i < len(s)-1 && !strings.ContainsAny(s, "*()[] ") && s[i+1] >= 'A' && s[i+1] <= 'Z' && strings.Count(s, ".") >= 2
}
