package admin_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/admin"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stoppedGroup writes 6 records to each of topic's 2 partitions, the
// first 3 stamped two hours ago and the others one hour ago, and commits
// group at offset 6 of partition 0 and 4 of partition 1, as a consumer
// that has stopped leaves it. It returns the two times.
func stoppedGroup(t *testing.T, c *kafkatest.Cluster, group, topic string) (older, newer time.Time) {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	older, newer = now.Add(-2*time.Hour), now.Add(-time.Hour)
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 6 {
			ts := older
			if i >= 3 {
				ts = newer
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x"), Timestamp: ts})
		}
	}
	produce(t, c, recs...)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 6, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: topic, Partition: 1, At: 4, LeaderEpoch: -1})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := kadm.NewClient(c.Client(t)).CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	return older, newer
}

// committed is group's committed offset of each partition of topic.
func committed(t *testing.T, c *kafkatest.Cluster, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(c.Client(t)).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		out[p] = o.At
	}
	return out
}

func TestResetGroupToATime(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.work", 2))
	older, _ := stoppedGroup(t, c, "ops.billing", "ops.work")
	srv := serve(t, c)
	between := older.Add(30 * time.Minute).UTC().Format(time.RFC3339)
	body := `{"topics":["ops.work"],"to":"` + between + `","dry_run":true}`
	var dry admin.ResetAnswer
	if code := call(t, srv, "POST", "/kafka/groups/ops.billing/reset", body, &dry); code != 200 {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	want := []admin.ResetRow{
		{Topic: "ops.work", Partition: 0, OldOffset: 6, NewOffset: 3, LogStart: 0, LogEnd: 6, Reread: 3},
		{Topic: "ops.work", Partition: 1, OldOffset: 4, NewOffset: 3, LogStart: 0, LogEnd: 6, Reread: 1},
	}
	if diff := cmp.Diff(want, dry.Partitions); diff != "" || !dry.DryRun || dry.Reread != 4 || dry.Skipped != 0 {
		t.Errorf("dry run %+v, rows (-want +got):\n%s", dry, diff)
	}
	if got := committed(t, c, "ops.billing", "ops.work"); got[0] != 6 || got[1] != 4 {
		t.Fatalf("a dry run committed %v", got)
	}

	var done admin.ResetAnswer
	if code := call(t, srv, "POST", "/kafka/groups/ops.billing/reset", strings.Replace(body, "true", "false", 1), &done); code != 200 || done.DryRun {
		t.Fatalf("reset: %d %+v", code, done)
	}
	var d admin.GroupDetail
	if get(t, srv, "/kafka/groups/ops.billing", "", &d); d.Lag != 6 {
		t.Errorf("lag after the reset %d, want 6 (3 in each partition): %+v", d.Lag, d.Offsets)
	}
}

// TestResetGroupTargets: earliest, latest, an offset, a shift, a time
// before the log start and one after the last record, per topic or per
// partition; a target the log does not hold goes to its nearest end and
// says so.
func TestResetGroupTargets(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.targets", 2))
	older, _ := stoppedGroup(t, c, "ops.t", "ops.targets")
	// Records 0 and 1 of partition 0 are gone, as retention would take
	// them: its log starts at 2.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	trim := kadm.Offsets{}
	trim.Add(kadm.Offset{Topic: "ops.targets", Partition: 0, At: 2})
	if _, err := kadm.NewClient(c.Client(t)).DeleteRecords(ctx, trim); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, c)
	row := func(p int32, old, nw, start, skipped, reread int64, note string) admin.ResetRow {
		return admin.ResetRow{Topic: "ops.targets", Partition: p, OldOffset: old, NewOffset: nw, LogStart: start, LogEnd: 6, Skipped: skipped, Reread: reread, Note: note}
	}
	for _, tc := range []struct {
		name, topics, to string
		want             []admin.ResetRow
	}{
		{"earliest", `["ops.targets"]`, `"earliest"`, []admin.ResetRow{row(0, 6, 2, 2, 0, 4, ""), row(1, 4, 0, 0, 0, 4, "")}},
		{"latest", `["ops.targets"]`, `"latest"`, []admin.ResetRow{row(0, 6, 6, 2, 0, 0, ""), row(1, 4, 6, 0, 2, 0, "")}},
		{"an offset of one partition", `[{"topic":"ops.targets","partitions":[1]}]`, `{"offset":5}`, []admin.ResetRow{row(1, 4, 5, 0, 1, 0, "")}},
		{"an offset past the end", `[{"topic":"ops.targets","partitions":[1]}]`, `{"offset":999}`,
			[]admin.ResetRow{row(1, 4, 6, 0, 2, 0, "offset 999 is past the log end: the log end (offset 6)")}},
		{"an offset before the log start", `[{"topic":"ops.targets","partitions":[0]}]`, `{"offset":1}`,
			[]admin.ResetRow{row(0, 6, 2, 2, 0, 4, "offset 1 is before the log start: the log start (offset 2)")}},
		{"shift back", `["ops.targets"]`, `{"shift":-2}`, []admin.ResetRow{row(0, 6, 4, 2, 0, 2, ""), row(1, 4, 2, 0, 0, 2, "")}},
		{"shift past the end", `["ops.targets"]`, `{"shift":5}`,
			[]admin.ResetRow{row(0, 6, 6, 2, 0, 0, "offset 11 is past the log end: the log end (offset 6)"), row(1, 4, 6, 0, 2, 0, "offset 9 is past the log end: the log end (offset 6)")}},
		{"a time before the log start", `[{"topic":"ops.targets","partitions":[0]}]`, `"` + older.Add(-time.Hour).Format(time.RFC3339Nano) + `"`,
			[]admin.ResetRow{row(0, 6, 2, 2, 0, 4, "no record kept is older than the time: the log start (offset 2)")}},
		{"a time after the last record", `[{"topic":"ops.targets","partitions":[1]}]`, `"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"`,
			[]admin.ResetRow{row(1, 4, 6, 0, 2, 0, "every record kept is older than the time: the log end (offset 6)")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a admin.ResetAnswer
			if code := call(t, srv, "POST", "/kafka/groups/ops.t/reset", `{"dry_run":true,"topics":`+tc.topics+`,"to":`+tc.to+`}`, &a); code != 200 {
				t.Fatalf("%d %+v", code, a)
			}
			if diff := cmp.Diff(tc.want, a.Partitions); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
	if got := committed(t, c, "ops.t", "ops.targets"); got[0] != 6 || got[1] != 4 {
		t.Fatalf("dry runs committed %v", got)
	}
}

func TestResetGroupBadInput(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.bad", 2), kafkatest.Topic("hidden", 1))
	stoppedGroup(t, c, "ops.g", "ops.bad")
	srv := serve(t, c, admin.AllowedTopics("ops.*"))
	long := strings.Repeat("g", 300)
	for _, tc := range []struct {
		name, group, body string
		status            int
		code, field       string
	}{
		{"no target", "ops.g", `{"topics":["ops.bad"]}`, 400, "invalid_request", "to"},
		{"a word", "ops.g", `{"topics":["ops.bad"],"to":"yesterday"}`, 400, "invalid_request", "to"},
		{"a time without a zone", "ops.g", `{"topics":["ops.bad"],"to":"2026-12-01T10:00:00"}`, 400, "invalid_request", "to"},
		{"a negative offset", "ops.g", `{"topics":["ops.bad"],"to":{"offset":-1}}`, 400, "invalid_request", "to.offset"},
		{"a shift as text", "ops.g", `{"topics":["ops.bad"],"to":{"shift":"x"}}`, 400, "invalid_request", "to"},
		{"a fractional shift", "ops.g", `{"topics":["ops.bad"],"to":{"shift":1.5}}`, 400, "invalid_request", "to.shift"},
		{"two targets", "ops.g", `{"topics":["ops.bad"],"to":{"offset":1,"shift":2}}`, 400, "invalid_request", "to"},
		{"another kind", "ops.g", `{"topics":["ops.bad"],"to":{"timestamp":1}}`, 400, "invalid_request", "to"},
		{"no topics", "ops.g", `{"to":"earliest"}`, 400, "invalid_request", "topics"},
		{"a topic twice", "ops.g", `{"topics":["ops.bad","ops.bad"],"to":"earliest"}`, 400, "invalid_request", "topics[1]"},
		{"too many topics", "ops.g", `{"topics":[` + strings.Repeat(`"ops.bad",`, 100) + `"ops.bad"],"to":"earliest"}`, 400, "invalid_request", "topics"},
		{"a null topic", "ops.g", `{"topics":[null],"to":"earliest"}`, 400, "invalid_request", "topics[0].topic"},
		{"a topic of odd characters", "ops.g", `{"topics":["ops bad/é"],"to":"earliest"}`, 400, "invalid_request", "topics[0].topic"},
		{"a topic as a number", "ops.g", `{"topics":[7],"to":"earliest"}`, 400, "invalid_request", "topics"},
		{"a missing partition", "ops.g", `{"topics":[{"topic":"ops.bad","partitions":[9]}],"to":"earliest"}`, 400, "invalid_request", "topics[0].partitions"},
		{"a missing topic", "ops.g", `{"topics":["ops.none"],"to":"earliest"}`, 404, "unknown_topic", "topics[0].topic"},
		{"a hidden topic", "ops.g", `{"topics":["hidden"],"to":"earliest"}`, 403, "forbidden", "topics[0].topic"},
		{"a control character in the group", "ops%01g", `{"topics":["ops.bad"],"to":"earliest"}`, 400, "invalid_request", "group"},
		{"a long group", long, `{"topics":["ops.bad"],"to":"earliest"}`, 400, "invalid_request", "group"},
		{"an unknown field", "ops.g", `{"topics":["ops.bad"],"to":"earliest","dryrun":true}`, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e errorAnswer
			if code := call(t, srv, "POST", "/kafka/groups/"+tc.group+"/reset", tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", code, e.Error.Code, e.Error.Field, e.Error.Message, tc.status, tc.code, tc.field)
			}
		})
	}
	if got := committed(t, c, "ops.g", "ops.bad"); got[0] != 6 || got[1] != 4 {
		t.Errorf("bad resets committed %v", got)
	}
}

// member runs a member of group reading topic until the test ends, and
// waits until the group lists it.
func member(t *testing.T, c *kafkatest.Cluster, srv *httptest.Server, group, topic, clientID string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl := c.Client(t, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(clientID),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	waitFor(t, "a member of "+group, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx)
		var d admin.GroupDetail
		return get(t, srv, "/kafka/groups/"+url.PathEscape(group), "", &d) == 200 && len(d.Members) == 1
	})
	return cl
}

// TestGroupWithMembersIsNotChanged: a reset or a delete of a group with
// members is 409 naming them, and changes nothing; once they leave, the
// reset goes through and the delete removes the group. Groups of both
// protocols: classic and KIP-848's, which Kafka describes apart.
func TestGroupWithMembersIsNotChanged(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.busy", 1))
	produce(t, c, &kgo.Record{Topic: "ops.busy", Value: []byte("x")}, &kgo.Record{Topic: "ops.busy", Value: []byte("y")})
	srv := serve(t, c)
	for _, proto := range []struct {
		name string
		opts []kgo.Opt
	}{{"classic", nil}, {"consumer", []kgo.Opt{kgo.ServerSideBalancer()}}} {
		t.Run(proto.name, func(t *testing.T) { changeBusyGroup(t, c, srv, "ops.busy-"+proto.name, proto.opts...) })
	}
}

// changeBusyGroup resets and deletes group while it has a member, then once it has none.
func changeBusyGroup(t *testing.T, c *kafkatest.Cluster, srv *httptest.Server, group string, opts ...kgo.Opt) {
	t.Helper()
	path := "/kafka/groups/" + group
	cl := member(t, c, srv, group, "ops.busy", "ops-worker-7", opts...)
	var e errorAnswer
	if code := call(t, srv, "POST", path+"/reset", `{"topics":["ops.busy"],"to":"earliest","dry_run":true}`, &e); code != 409 ||
		e.Error.Code != "group_not_empty" || !strings.Contains(e.Error.Message, `"ops-worker-7"`) {
		t.Errorf("reset with a member: %d %+v, want 409 group_not_empty naming ops-worker-7", code, e)
	}
	if code := call(t, srv, "DELETE", path, "", &e); code != 409 || e.Error.Code != "group_not_empty" || !strings.Contains(e.Error.Message, "ops-worker-7") {
		t.Errorf("delete with a member: %d %+v, want 409 group_not_empty naming ops-worker-7", code, e)
	}
	cl.Close() // leaves the group
	waitFor(t, "empty", func() bool {
		var d admin.GroupDetail
		return get(t, srv, path, "", &d) == 200 && len(d.Members) == 0
	})
	var a admin.ResetAnswer
	if code := call(t, srv, "POST", path+"/reset", `{"topics":["ops.busy"],"to":"earliest"}`, &a); code != 200 {
		t.Fatalf("reset of the empty group: %d %+v", code, a)
	}
	var gone admin.DeletedGroup
	if code := call(t, srv, "DELETE", path, "", &gone); code != 200 || gone.Deleted != group {
		t.Fatalf("delete of the empty group: %d %+v", code, gone)
	}
	var d admin.GroupDetail
	waitFor(t, "deleted", func() bool { return get(t, srv, path, "", &d) == 404 })
	if code := call(t, srv, "DELETE", path, "", &e); code != 404 || e.Error.Code != "not_found" {
		t.Errorf("delete of no group: %d %+v, want 404 not_found", code, e)
	}
}

// TestOddGroupNames: a group's name is any text Kafka takes, spaces,
// slashes and letters beyond ASCII included, escaped in the path.
func TestOddGroupNames(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("ops.odd", 2))
	const group = "team a/é?#%"
	stoppedGroup(t, c, group, "ops.odd")
	srv := serve(t, c)
	path := "/kafka/groups/" + url.PathEscape(group)
	var a admin.ResetAnswer
	if code := call(t, srv, "POST", path+"/reset", `{"topics":["ops.odd"],"to":"earliest"}`, &a); code != 200 || a.Group != group {
		t.Fatalf("reset: %d %+v", code, a)
	}
	if got := committed(t, c, group, "ops.odd"); got[0] != 0 || got[1] != 0 {
		t.Errorf("committed %v, want 0 and 0", got)
	}
	var gone admin.DeletedGroup
	if code := call(t, srv, "DELETE", path, "", &gone); code != 200 || gone.Deleted != group {
		t.Fatalf("delete: %d %+v", code, gone)
	}
}
