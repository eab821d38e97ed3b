package config

import (
	"errors"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func (s SASL) validate() error {
	var errs []error
	switch s.Mechanism {
	case "":
		if s.Username != "" {
			errs = append(errs, &env.Error{Name: "KAFKA_SASL_USERNAME", Value: s.Username, Reason: "is set but KAFKA_SASL_MECHANISM is not"})
		}
		if s.Password != "" {
			errs = append(errs, &env.Error{Name: "KAFKA_SASL_PASSWORD", Reason: "is set but KAFKA_SASL_MECHANISM is not", Secret: true})
		}
		return errors.Join(errs...)
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return &env.Error{Name: "KAFKA_SASL_MECHANISM", Value: s.Mechanism, Reason: "must be one of plain, scram-sha-256, scram-sha-512"}
	}
	if s.Username == "" {
		errs = append(errs, &env.Error{Name: "KAFKA_SASL_USERNAME", Reason: "must be set with KAFKA_SASL_MECHANISM=" + s.Mechanism})
	}
	if s.Password == "" {
		errs = append(errs, &env.Error{Name: "KAFKA_SASL_PASSWORD", Reason: "must be set with KAFKA_SASL_MECHANISM=" + s.Mechanism, Secret: true})
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
