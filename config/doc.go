// Package config holds kafkakit's Kafka settings, reads them from the
// environment variables the service documents, validates them and turns them
// into franz-go client options.
//
// Values from outside the program (the environment) land in the plain
// [Kafka] and [Logging] structs; everything the program decides itself is a
// functional option on the package that uses it. [FromEnv] never panics and
// never exits: it returns one error naming every bad variable and its value,
// except secrets, which are never repeated.
package config
