//go:build !race

package main

// raceBuild: the tests run without the race detector, so the kafkakit
// binary their subprocesses run is built without it, which builds and
// runs several times faster.
const raceBuild = false
