#!/usr/bin/env bash
# The real-cluster tier: the tests of the packages below against Apache
# Kafka itself (internal/realkafka: one KRaft node from the jars Maven
# fetches once), then, on the same node, Spring for Apache Kafka against
# kafkakit (interop/spring), then the three-node failover runs. The nodes
# create no topic on first use (auto.create.topics.enable=false), as
# production clusters run: every topic a test or kafkakit needs is created
# on purpose, and a test whose premise is creation on first use skips,
# saying so. Needs Java 17 and Maven. Prints how many tests ran against
# the real cluster.
#
#	bash .ci/realkafka.sh                  # every package below
#	bash .ci/realkafka.sh ./producer/      # only these (no Spring, no failover)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

packages=("$@")
failover=false
if [ ${#packages[@]} -eq 0 ]; then
	packages=(./kafkatest/ ./producer/ ./consumer/ ./httpapi/ ./idempotency/ ./streamclient/ ./admin/ ./dlq/ ./metrics/ ./webhook/ ./queue/ ./internal/service/ ./cmd/kafkakit/)
	failover=true
fi

work=$(mktemp -d)
go build -o "$work/realkafka" ./internal/realkafka/cmd
"$work/realkafka" run -auto-create=false -dir "$work/cluster" -env-file "$work/env" >"$work/realkafka.out" 2>&1 &
cluster=$!
stop() {
	"$work/realkafka" stop -dir "$work/cluster" || true
	wait "$cluster" 2>/dev/null || true
	rm -rf "$work"
}
trap stop EXIT

echo "== real Apache Kafka: starting one node, auto.create.topics.enable=false"
for _ in $(seq 600); do
	[ -f "$work/env" ] && break
	if ! kill -0 "$cluster" 2>/dev/null; then
		echo "the real cluster did not start: $(tail -1 "$work/realkafka.out")"
		exit 1
	fi
	sleep 0.5
done
if [ ! -f "$work/env" ]; then
	echo "the real cluster did not start in 5 minutes: $(tail -1 "$work/realkafka.out")"
	exit 1
fi
grep -v PASSWORD "$work/realkafka.out"
set -a
. "$work/env"
set +a

# --- Java client interop (interop/javaclient), a step of its own ---
# With every package, build the Maven module that is the Java side of
# interop/javaclient's tests (no Maven tests: the Go tests drive it) and
# add the package to the run; asked for by name, the package builds the
# module itself. Its yardstick runs only by hand (docs/performance.md).
if $failover; then
	echo "== Java client interop: mvn -q -B package in interop/javaclient"
	if ! (cd interop/javaclient && mvn -q -B package) >"$work/mvn.out" 2>&1; then
		echo "the Java module of interop/javaclient did not build:"
		tail -50 "$work/mvn.out"
		exit 1
	fi
	packages+=(./interop/javaclient/)
fi
# --- end of Java client interop ---

echo "== go test against the real cluster: ${packages[*]}"
# -p 1: the packages share the one cluster, which each test empties.
status=0
go test -count=1 -p 1 -v -timeout 30m "${packages[@]}" >"$work/test.out" 2>&1 || status=$?
grep -E '^(ok|FAIL|---|panic:)|^\s+--- FAIL|_test\.go:[0-9]+:' "$work/test.out" | grep -vE '^\s*--- (PASS|SKIP)' || true
# Tests that passed having used the real cluster: kafkatest logs a line
# for each cluster a test gets on it, under the test's name.
real=$(awk '
	/^=== (RUN|CONT|NAME) / { cur = $3 }
	/kafkatest: on the external cluster at / { used[cur] = 1 }
	/^ *--- PASS: / { if ($3 in used) n++ }
	/^(ok|FAIL)[ \t]/ { split("", used) }
	END { print n + 0 }' "$work/test.out")
# A test that failed is run once more, alone, on the same cluster: a
# broker process shared by every package has timing a fake one does not.
# What passes then is listed as flaky, never hidden; what fails again
# fails the tier.
if [ "$status" -ne 0 ]; then
	awk '/^--- FAIL: / { t = t "|" $3 } /^(ok|FAIL)[ \t]+github/ { if (t != "") print $2, substr(t, 2); t = "" }' \
		"$work/test.out" >"$work/failed"
	if [ -s "$work/failed" ] && ! grep -qE '^panic:' "$work/test.out"; then
		status=0
		while read -r pkg tests; do
			echo "== failed once on the real cluster, run again: $pkg $tests"
			if go test -count=1 -p 1 -v -timeout 10m -run "^(${tests})\$" "$pkg" >"$work/rerun.out" 2>&1; then
				echo "flaky on Apache Kafka (failed, then passed alone): $pkg $tests"
				grep -E '_test\.go:[0-9]+:' "$work/test.out" | grep -vE 'kafkatest: on the external|needs kfake' | tail -5 || true
			else
				status=1
				tail -100 "$work/rerun.out"
			fi
		done <"$work/failed"
	fi
fi
passed=$(grep -cE '^\s*--- PASS' "$work/test.out" || true)
failed=$(grep -cE '^\s*--- FAIL' "$work/test.out" || true)
if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then
	echo "== $failed test results failed once and passed when run again (listed above as flaky)"
	failed=0
fi
skipped=$(grep -cE '^\s*--- SKIP' "$work/test.out" || true)
echo "== skipped against the real cluster, by reason"
grep -hoE '(needs kfake, not a real cluster: .*|needs [0-9]+ brokers, .*|needs a cluster that .*)' "$work/test.out" | sort | uniq -c || true
if [ "$status" -ne 0 ]; then
	echo "== the failed run's output"
	tail -200 "$work/test.out"
fi
if [ "$status" -ne 0 ]; then
	echo "== $real tests passed against Apache Kafka"
	echo "realkafka: $passed passed, $failed failed, $skipped skipped"
	exit "$status"
fi
# ---- Spring for Apache Kafka (interop/spring) -----------------------------
# Its Maven module is built (the first build fetches Spring for Apache Kafka
# and its kafka-clients; later ones reuse the local repository), then the spring-tagged
# tests run on the same node: Spring reads kafkakit's dead letters, kafkakit
# replays Spring's, and each finishes the other's retry records.
if $failover; then
	echo "== Spring for Apache Kafka against kafkakit on the real cluster"
	spring=0
	if ! (cd interop/spring && mvn -q -B package) >"$work/spring.out" 2>&1; then
		spring=1
		echo "mvn -q -B package failed in interop/spring:"
	else
		go test -count=1 -v -timeout 20m -tags spring ./interop/ >"$work/spring.out" 2>&1 || spring=$?
		grep -E '^(ok|FAIL|--- |panic:)|^\s+--- FAIL' "$work/spring.out" || true
	fi
	sp=$(grep -cE '^\s*--- PASS' "$work/spring.out" || true)
	sf=$(grep -cE '^\s*--- FAIL' "$work/spring.out" || true)
	passed=$((passed + sp))
	real=$((real + sp))
	failed=$((failed + sf))
	if [ "$spring" -ne 0 ]; then
		status=1
		tail -150 "$work/spring.out"
	fi
fi
# ---- end of Spring for Apache Kafka ---------------------------------------
stop
trap - EXIT

if $failover; then
	echo "== failover on three real nodes"
	KAFKAKIT_REALKAFKA_FAILOVER=1 go test -count=1 -v -timeout 15m -run '^TestFailover$' ./internal/realkafka/ >"$work.failover" 2>&1 || status=$?
	grep -E '^(failover:|ok|FAIL|--- |panic:)' "$work.failover" || true
	if grep -qE '^--- PASS: TestFailover' "$work.failover"; then
		passed=$((passed + 1))
		real=$((real + 1))
	else
		failed=$((failed + 1))
		tail -100 "$work.failover"
	fi
	rm -f "$work.failover"
fi
echo "== $real tests passed against Apache Kafka; the others use no broker, or kfake itself, or were skipped"
echo "realkafka: $passed passed, $failed failed, $skipped skipped"
exit "$status"
