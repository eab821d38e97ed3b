package config

import (
	"errors"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func (s SASL) validate() error {
	var errs []error
	switch s.Mechanism {
	case "":
		if s.Username != "" {
			errs = append(errs, &FieldError{Field: "SASL.Username", Value: s.Username, Reason: "is set but %s is not", Other: "SASL.Mechanism"})
		}
		if s.Password != "" {
			errs = append(errs, &FieldError{Field: "SASL.Password", Reason: "is set but %s is not", Other: "SASL.Mechanism", Secret: true})
		}
		return errors.Join(errs...)
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return oneOf("SASL.Mechanism", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if s.Username == "" {
		errs = append(errs, &FieldError{Field: "SASL.Username", Reason: "must be set with %s", Other: "SASL.Mechanism", OtherValue: s.Mechanism})
	}
	if s.Password == "" {
		errs = append(errs, &FieldError{Field: "SASL.Password", Reason: "must be set with %s", Other: "SASL.Mechanism", OtherValue: s.Mechanism, Secret: true})
	}
	return errors.Join(errs...)
}

// mechanism returns the franz-go mechanism, or nil when SASL is off.
func (s SASL) mechanism() sasl.Mechanism {
	switch s.Mechanism {
	case SASLPlain:
		return plain.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha256Mechanism()
	case SASLScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha512Mechanism()
	}
	return nil
}
