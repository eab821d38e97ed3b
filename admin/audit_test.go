package admin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// lockedBuffer is a log's output, written by request goroutines and read
// by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// auditLine is one line of the audit trail.
type auditLine struct {
	Msg, Caller, Action, Target, Outcome, Summary string
	DryRun                                        bool `json:"dry_run"`
	Status                                        int
}

// auditLines are the audit trail's lines in out.
func auditLines(t *testing.T, out string) []auditLine {
	t.Helper()
	var lines []auditLine
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("%v in %s", err, l)
		}
		if a.Msg == "admin action" {
			lines = append(lines, a)
		}
	}
	return lines
}

// actions is the value of kafkakit_admin_actions_total{action,outcome}.
func actions(t *testing.T, reg *prometheus.Registry, action, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "kafkakit_admin_actions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["action"] == action && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestAuditTrail: every call that changes the cluster, dry runs and
// refusals included, logs one INFO line with its caller's name (never
// the token), action, target, outcome and summary, and is counted by
// action and outcome; reads are not.
func TestAuditTrail(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.audit.dlt", 2))
	stoppedGroup(t, c, "ops.audited", "ops.audit.dlt")
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	const token = "s3cret-admin-token"
	// The caller's name is the one its token has in the tokens file.
	tokens, err := apicontract.ReadTokens(strings.NewReader("ops-team " + token + " read,admin,replay\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := admin.New(c.Config(), c.Client(t), admin.Guard(apicontract.NewGuard(tokens)), admin.Observe(m),
		admin.Logger(slog.New(slog.NewJSONHandler(&out, nil))))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	calls := []struct {
		method, path, body string
		status             int
		want               auditLine
	}{
		{"POST", "/kafka/topics?dry_run=true", `{"name":"ops.audit","partitions":2}`, 200,
			auditLine{Action: "create_topic", Target: "ops.audit", Outcome: "dry_run", DryRun: true}},
		{"POST", "/kafka/topics", `{"name":"ops.audit","partitions":2}`, 201, auditLine{Action: "create_topic", Target: "ops.audit", Outcome: "ok"}},
		{"POST", "/kafka/topics", `{"name":"ops.audit","partitions":2}`, 409, auditLine{Action: "create_topic", Target: "ops.audit", Outcome: "refused"}},
		{"PATCH", "/kafka/topics/ops.audit", `{"configs":{"retention.ms":60000}}`, 200, auditLine{Action: "update_topic", Target: "ops.audit", Outcome: "ok"}},
		{"DELETE", "/kafka/topics/ops.audit", `{"confirm":"ops.other"}`, 400, auditLine{Action: "delete_topic", Target: "ops.audit", Outcome: "refused"}},
		{"DELETE", "/kafka/topics/ops.audit", `{"confirm":"ops.audit"}`, 200, auditLine{Action: "delete_topic", Target: "ops.audit", Outcome: "ok"}},
		{"POST", "/kafka/groups/ops.audited/reset", `{"topics":["ops.audit.dlt"],"to":"earliest","dry_run":true}`, 200,
			auditLine{Action: "reset_offsets", Target: "ops.audited", Outcome: "dry_run", DryRun: true}},
		{"POST", "/kafka/dlq/ops.audit.dlt/replay", `{"dry_run":true}`, 200, auditLine{Action: "replay", Target: "ops.audit.dlt", Outcome: "dry_run", DryRun: true}},
		{"DELETE", "/kafka/groups/ops.audited", "", 200, auditLine{Action: "delete_group", Target: "ops.audited", Outcome: "ok"}},
		{"GET", "/kafka/topics", "", 200, auditLine{}},
	}
	for _, call := range calls {
		var v any
		if code := callAs(t, srv, token, call.method, call.path, call.body, &v); code != call.status {
			t.Fatalf("%s %s: %d %v, want %d", call.method, call.path, code, v, call.status)
		}
	}
	// A line is written once its answer is: wait for the last.
	waitFor(t, "logged", func() bool { return len(auditLines(t, out.String())) >= len(calls)-1 })
	lines := auditLines(t, out.String())
	if len(lines) != len(calls)-1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(calls)-1, out.String())
	}
	for i, l := range lines {
		want := calls[i].want
		if l.Caller != "ops-team" || l.Action != want.Action || l.Target != want.Target || l.Outcome != want.Outcome ||
			l.DryRun != want.DryRun || l.Status != calls[i].status || l.Summary == "" {
			t.Errorf("line %d: %+v, want %+v by ops-team with status %d and a summary", i, l, want, calls[i].status)
		}
	}
	if strings.Contains(out.String(), token) {
		t.Error("the log holds the token")
	}
	if !strings.Contains(lines[6].Summary, "10 read again") {
		t.Errorf("the reset's summary %q does not count what the group reads again", lines[6].Summary)
	}
	for _, want := range []struct {
		action, outcome string
		n               float64
	}{{"create_topic", "dry_run", 1}, {"create_topic", "ok", 1}, {"create_topic", "refused", 1}, {"update_topic", "ok", 1},
		{"delete_topic", "refused", 1}, {"delete_topic", "ok", 1}, {"reset_offsets", "dry_run", 1}, {"replay", "dry_run", 1}, {"delete_group", "ok", 1}} {
		if got := actions(t, reg, want.action, want.outcome); got != want.n {
			t.Errorf("kafkakit_admin_actions_total{action=%q,outcome=%q} = %v, want %v", want.action, want.outcome, got, want.n)
		}
	}
}
