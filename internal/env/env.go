// Package env reads typed settings from environment variables and collects
// every bad value into one error, so that start-up reports all mistakes at
// once instead of one per restart.
package env

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Error is a bad environment value. Its text names the variable and quotes
// the value, unless the variable holds a secret:
//
//	KAFKA_SESSION_TIMEOUT: "abc" is not a whole number of milliseconds
//	KAFKA_SASL_PASSWORD must be set with KAFKA_SASL_MECHANISM=plain
type Error struct {
	Name   string // the variable, e.g. KAFKA_SESSION_TIMEOUT
	Value  string // the value as set, never shown when Secret
	Reason string // why it was rejected, e.g. "is not a whole number of milliseconds"
	Secret bool   // the value must not be shown
}

func (e *Error) Error() string {
	if e.Secret || e.Value == "" {
		return e.Name + " " + e.Reason
	}
	return fmt.Sprintf("%s: %q %s", e.Name, e.Value, e.Reason)
}

// Lookup finds an environment variable, like os.LookupEnv.
type Lookup func(name string) (value string, ok bool)

// Map returns a Lookup over m, for tests and for configuration that does not
// come from the process environment.
func Map(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// Parser reads variables through a Lookup and remembers every failure. An
// unset or empty variable takes its default.
type Parser struct {
	lookup Lookup
	errs   []error
	failed map[string]bool
}

// NewParser returns a Parser reading through lookup, typically os.LookupEnv.
func NewParser(lookup Lookup) *Parser {
	return &Parser{lookup: lookup}
}

// Err returns every failure recorded so far, joined, or nil.
func (p *Parser) Err() error { return errors.Join(p.errs...) }

// Fail records that name's value is bad for the stated reason.
func (p *Parser) Fail(name, value, reason string) {
	p.errs = append(p.errs, &Error{Name: name, Value: value, Reason: reason})
	if p.failed == nil {
		p.failed = make(map[string]bool)
	}
	p.failed[name] = true
}

// Failed reports whether name's value was rejected.
func (p *Parser) Failed(name string) bool { return p.failed[name] }

// Raw returns the trimmed value of name, "" when unset.
func (p *Parser) Raw(name string) string {
	v, _ := p.lookup(name)
	return strings.TrimSpace(v)
}

// IsSet reports whether name is set at all, even to "".
func (p *Parser) IsSet(name string) bool {
	_, ok := p.lookup(name)
	return ok
}

// Secret returns the value of name untrimmed: a password may well begin or
// end with a space.
func (p *Parser) Secret(name string) string {
	v, _ := p.lookup(name)
	return v
}

// String returns the value of name, or def when unset.
func (p *Parser) String(name, def string) string {
	if v := p.Raw(name); v != "" {
		return v
	}
	return def
}

// Bool parses true/false (and the other spellings strconv.ParseBool knows).
func (p *Parser) Bool(name string, def bool) bool {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.Fail(name, v, "is not true or false")
		return def
	}
	return b
}

// Int parses a whole number within [min, max].
func (p *Parser) Int(name string, def, min, max int) int {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.Fail(name, v, "is not a whole number")
		return def
	}
	if n < min || n > max {
		p.Fail(name, v, rangeReason(min, max))
		return def
	}
	return n
}

func rangeReason(min, max int) string {
	if max == math.MaxInt || max == math.MaxInt32 {
		return fmt.Sprintf("must be at least %d", min)
	}
	return fmt.Sprintf("must be between %d and %d", min, max)
}

// Millis parses a duration given in whole milliseconds, which must be at
// least min.
func (p *Parser) Millis(name string, def, min time.Duration) time.Duration {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	d, ok := millis(v)
	if !ok {
		p.Fail(name, v, "is not a whole number of milliseconds")
		return def
	}
	if d < min {
		if min == time.Millisecond {
			p.Fail(name, v, "must be a positive number of milliseconds")
		} else {
			p.Fail(name, v, fmt.Sprintf("must be at least %d milliseconds", min.Milliseconds()))
		}
		return def
	}
	return d
}

// Enum returns the value of name lower-cased, which must be one of allowed.
func (p *Parser) Enum(name, def string, allowed ...string) string {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	lv := strings.ToLower(v)
	for _, a := range allowed {
		if lv == a {
			return a
		}
	}
	p.Fail(name, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

// List splits a comma-separated value, trimming spaces and dropping empty
// items.
func (p *Parser) List(name string) []string {
	return SplitList(p.Raw(name))
}

// SplitList splits s at commas, trimming spaces and dropping empty items.
func SplitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Whole parses a whole number that fits in bits bits. Its range is the
// caller's to check.
func (p *Parser) Whole(name string, def int64, bits int) int64 {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, bits)
	switch {
	case errors.Is(err, strconv.ErrRange):
		p.Fail(name, v, "is out of range")
		return def
	case err != nil:
		p.Fail(name, v, "is not a whole number")
		return def
	}
	return n
}

// Duration parses a duration given in whole milliseconds. Its range is the
// caller's to check.
func (p *Parser) Duration(name string, def time.Duration) time.Duration {
	v := p.Raw(name)
	if v == "" {
		return def
	}
	d, ok := millis(v)
	if !ok {
		p.Fail(name, v, "is not a whole number of milliseconds")
		return def
	}
	return d
}

// millis parses v as a whole number of milliseconds that fits in a
// time.Duration.
func millis(v string) (time.Duration, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// Lower returns the value of name lower-cased, or def when unset. Whether
// it is one of the allowed values is the caller's to check.
func (p *Parser) Lower(name, def string) string {
	if v := p.Raw(name); v != "" {
		return strings.ToLower(v)
	}
	return def
}
