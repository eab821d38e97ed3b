package config

import "fmt"

// FieldError is a setting that fails validation. Built in code, its text
// names the field; from [FromEnv], the environment variable instead, with
// the value as it was set:
//
//	config: HeartbeatInterval: 30s must be less than SessionTimeout (30s)
//	KAFKA_HEARTBEAT_INTERVAL: "30000" must be less than KAFKA_SESSION_TIMEOUT (30000)
type FieldError struct {
	// Field is the field at fault, as a path from [Kafka]: "SessionTimeout",
	// "TLS.CAFile".
	Field string
	// Value is the field's value; nil or "" shows none.
	Value any
	// Reason says what is wrong. A %s in it stands for Other.
	Reason string
	// Other is another field the reason refers to, if any, and OtherValue
	// its value (nil shows none).
	Other      string
	OtherValue any
	// Secret keeps Value out of the text.
	Secret bool
}

func (e *FieldError) Error() string {
	return "config: " + e.text(func(f string) string { return f }, func(v any) string { return fmt.Sprint(v) })
}

// text renders the error with fields and values named by name and format.
func (e *FieldError) text(name func(field string) string, format func(any) string) string {
	reason := e.Reason
	if e.Other != "" {
		other := name(e.Other)
		if e.OtherValue != nil {
			other += " (" + format(e.OtherValue) + ")"
		}
		reason = fmt.Sprintf(reason, other)
	}
	value := ""
	if e.Value != nil && !e.Secret {
		value = format(e.Value)
	}
	if value == "" {
		return name(e.Field) + " " + reason
	}
	return fmt.Sprintf("%s: %q %s", name(e.Field), value, reason)
}
