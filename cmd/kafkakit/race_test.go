//go:build race

package main

// raceBuild: the tests run under the race detector, so the kafkakit binary
// their subprocesses run is built with it too.
const raceBuild = true
