package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/streamclient"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// streamServer is a real HTTP server in front of a kfake cluster; every
// accepted connection gets small socket buffers when small is set, so
// that a client that stops reading stalls the server's writes quickly.
func streamServer(t *testing.T, c *kafkatest.Cluster, small bool, opts ...httpapi.Option) (*httpapi.Handler, *httptest.Server) {
	t.Helper()
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := httpapi.New(p, opts...)
	srv := httptest.NewUnstartedServer(h)
	if small {
		srv.Listener = smallBuffers{srv.Listener}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return h, srv
}

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
		_ = tc.SetWriteBuffer(4096)
	}
	return conn, err
}

// rawStream opens POST /kafka/stream on a bare connection, its body
// chunked, so that a test can stop reading or cut the connection at any
// byte.
type rawStream struct {
	conn net.Conn
	resp *http.Response
	br   *bufio.Reader
}

func openRaw(t *testing.T, url string, small bool) *rawStream {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc := conn.(*net.TCPConn); small {
		_ = tc.SetReadBuffer(4096)
		_ = tc.SetWriteBuffer(4096)
	}
	fmt.Fprintf(conn, "POST /kafka/stream HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
	return &rawStream{conn: conn, br: bufio.NewReader(conn)}
}

func (s *rawStream) write(t *testing.T, data string) error {
	_, err := fmt.Fprintf(s.conn, "%x\r\n%s\r\n", len(data), data)
	return err
}

func (s *rawStream) end(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(s.conn, "0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// answerWait is how long the next answer may take. An answer waits for
// its record's acknowledgement, and under a loaded race-detector run one
// took over 20 s; a produce request the broker does not answer is given
// up and sent again only after its timeout plus franz-go's overhead,
// 10 s + 10 s.
const answerWait = time.Minute

// answer reads the next answer line.
func (s *rawStream) answer(t *testing.T) map[string]any {
	t.Helper()
	if s.resp == nil {
		_ = s.conn.SetReadDeadline(time.Now().Add(answerWait))
		resp, err := http.ReadResponse(s.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("got %d %s, want 200 application/x-ndjson", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		s.resp, s.br = resp, bufio.NewReader(resp.Body)
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(answerWait))
	line, err := s.br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading an answer: %v (got %q)", err, line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", line, err)
	}
	return m
}

func sendLine(topic string, i int) string {
	return fmt.Sprintf(`{"topic":%q,"key":"k%d","value":"v%d"}`+"\n", topic, i%7, i)
}

// TestStreamAnswersInOrder: every line is answered, in the order sent,
// with where its own record landed.
func TestStreamAnswersInOrder(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("ordered", 3))
	_, srv := streamServer(t, c, false, httpapi.StreamWindow(50))
	s, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	go func() {
		for i := range n {
			_ = s.Send([]byte(strings.TrimSpace(sendLine("ordered", i))))
		}
		s.Close()
	}()
	var results []streamclient.Result
	for r := range s.Results() {
		results = append(results, r)
	}
	if err := s.Err(); err != nil || len(results) != n {
		t.Fatalf("got %d answers (err %v), want %d", len(results), err, n)
	}
	where := map[[2]int64]string{}
	for _, rec := range c.ReadToEnd(t, "ordered") {
		where[[2]int64{int64(rec.Partition), rec.Offset}] = string(rec.Value)
	}
	for i, r := range results {
		if r.Error != nil {
			t.Fatalf("answer %d: %v", i, r.Error)
		}
		if got, want := where[[2]int64{int64(r.Partition), r.Offset}], "v"+strconv.Itoa(i); got != want {
			t.Fatalf("answer %d points at %q, want %q", i, got, want)
		}
	}
}

// TestStreamBadLinesAreAnsweredAndTheRestSent: a line that is not JSON,
// names a forbidden topic, has an unknown field or is too long gets its
// error line; the lines around it are sent.
func TestStreamBadLinesAreAnsweredAndTheRestSent(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("s.ok", 1))
	_, srv := streamServer(t, c, false, httpapi.AllowedTopics("s.*"), httpapi.MaxBodyBytes(256))
	body := sendLine("s.ok", 0) +
		"{not json\n" +
		sendLine("s.ok", 1) +
		sendLine("forbidden", 2) +
		`{"topic":"s.ok","valu":"x"}` + "\n" +
		"\n" + // blank: no answer
		`{"topic":"s.ok","value":"` + strings.Repeat("x", 300) + `"}` + "\r\n" +
		strings.TrimSpace(sendLine("s.ok", 3)) // the last line needs no newline
	resp, err := srv.Client().Post(srv.URL+"/kafka/stream", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := []string{"ok", "invalid_request", "ok", "forbidden", "invalid_request", "payload_too_large", "ok"}
	if len(lines) != len(want) {
		t.Fatalf("got %d answers, want %d:\n%s", len(lines), len(want), raw)
	}
	for i, line := range lines {
		var m struct {
			Offset *int64
			Error  *struct{ Code, Message, Field string }
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("answer %d %q: %v", i, line, err)
		}
		got := "ok"
		if m.Error != nil {
			got = m.Error.Code
		}
		if got != want[i] || (got == "ok" && m.Offset == nil) {
			t.Errorf("answer %d: got %s, want %s", i, line, want[i])
		}
	}
	var values []string
	for _, rec := range c.ReadToEnd(t, "s.ok") {
		values = append(values, string(rec.Value))
	}
	if got := strings.Join(values, ","); got != "v0,v1,v3" {
		t.Errorf("topic holds %s, want v0,v1,v3", got)
	}
}

// TestStreamClientThatStopsReading: a client that sends lines but reads
// no answers stalls its own stream: the server stops reading it with at
// most the window of records in flight, and answers other clients
// meanwhile. Once the client reads, the stream finishes in order.
func TestStreamClientThatStopsReading(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("slow", 1))
	const window, n = 20, 5000
	h, srv := streamServer(t, c, true, httpapi.StreamWindow(window), httpapi.MaxInFlight(2))
	s := openRaw(t, srv.URL, true)
	var written atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; i < n; i += 50 {
			var b strings.Builder
			for j := i; j < i+50; j++ {
				b.WriteString(sendLine("slow", j))
			}
			if err := s.write(t, b.String()); err != nil {
				writerDone <- err
				return
			}
			written.Add(50)
		}
		_, err := io.WriteString(s.conn, "0\r\n\r\n")
		writerDone <- err
	}()
	kafkatest.WaitFor(t, 20*time.Second, func() error {
		if got := totalRecords(t, c, "slow"); got < 2*window {
			return fmt.Errorf("%d records sent", got)
		}
		return nil
	})
	// The stream holds one of the two in-flight slots; others still work.
	a := &api{url: srv.URL, client: srv.Client()}
	if ans := a.post(t, "/kafka/send", `{"topic":"slow","value":"other"}`); ans.status != 200 {
		t.Fatalf("another client got %d %s while a stream stalled", ans.status, ans.raw)
	}
	stalledAt := totalRecords(t, c, "slow")
	if stalledAt >= n {
		t.Fatalf("all %d lines were sent before any answer was read", n)
	}
	if peak := h.StreamPeak(); peak > window {
		t.Fatalf("the stream held %d records, over its window of %d", peak, window)
	}
	prev := int64(-1)
	for i := range n {
		m := s.answer(t)
		if m["error"] != nil {
			t.Fatalf("answer %d: %v", i, m)
		}
		off := int64(m["offset"].(float64))
		if off <= prev {
			t.Fatalf("answer %d: offset %d after %d", i, off, prev)
		}
		prev = off
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if peak := h.StreamPeak(); peak > window {
		t.Errorf("the stream held %d records, over its window of %d", peak, window)
	}
	t.Logf("stalled at %d of %d records, peak in flight %d", stalledAt, n, h.StreamPeak())
}

// TestStreamConnectionCut: when the connection breaks, a line the cut
// left without its newline is never sent, even if it is a whole JSON
// object, and each line answered before the cut is in the topic once.
func TestStreamConnectionCut(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("cut", 1))
	ended := make(chan int, 1)
	_, srv := streamServer(t, c, false, httpapi.Observe(func(route, _ string, status int, _ time.Duration) {
		if route == "/kafka/stream" {
			ended <- status
		}
	}))
	s := openRaw(t, srv.URL, false)
	const answered = 5
	for i := range answered {
		if err := s.write(t, sendLine("cut", i)); err != nil {
			t.Fatal(err)
		}
		if m := s.answer(t); m["error"] != nil {
			t.Fatalf("answer %d: %v", i, m)
		}
	}
	if err := s.write(t, strings.TrimSpace(sendLine("cut", answered))); err != nil {
		t.Fatal(err)
	}
	s.conn.Close()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream did not end after the connection was cut")
	}
	recs := c.ReadToEnd(t, "cut")
	if len(recs) != answered {
		t.Fatalf("topic holds %d records, want the %d answered", len(recs), answered)
	}
	for i, rec := range recs {
		if got, want := string(rec.Value), "v"+strconv.Itoa(i); got != want {
			t.Errorf("record %d is %q, want %q", i, got, want)
		}
	}
}

// TestStreamNeedsNDJSONAndToken: the stream is behind the token and
// refuses other media types before reading anything.
func TestStreamNeedsNDJSONAndToken(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("auth", 1))
	_, srv := streamServer(t, c, false, httpapi.AuthToken("s3cret"))
	a := &api{url: srv.URL, client: srv.Client()}
	if ans := a.do(t, "POST", "/kafka/stream", "application/x-ndjson", sendLine("auth", 0)); ans.status != 401 {
		t.Errorf("without token: got %d %s, want 401", ans.status, ans.raw)
	}
	ans := a.do(t, "POST", "/kafka/stream", "application/json", sendLine("auth", 0), "Authorization", "Bearer s3cret")
	if ans.status != 415 || ans.errorField("code") != "unsupported_media" {
		t.Errorf("JSON body: got %d %s, want 415", ans.status, ans.raw)
	}
	if _, err := streamclient.Open(context.Background(), srv.Client(), srv.URL, "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("OpenStream with a wrong token: %v, want a 401 error", err)
	}
	st, err := streamclient.Open(context.Background(), srv.Client(), srv.URL, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send([]byte(sendLine("auth", 0)))
	st.Close()
	for r := range st.Results() {
		if r.Error != nil || r.Topic != "auth" {
			t.Errorf("got %+v", r)
		}
	}
}

// start reads the stream's answer head and returns its status.
func (s *rawStream) start(t *testing.T) int {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(answerWait))
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.resp, s.br = resp, bufio.NewReader(resp.Body)
	return resp.StatusCode
}

// TestIdleStreamsDoNotStarveSends: streams have a budget of their own
// (MaxStreams), apart from the send requests' MaxInFlight and
// MaxInFlightBytes: with 64 streams open that send only blank lines, a
// POST /kafka/send still gets 200, and one more stream is refused with an
// *Error saying overloaded.
func TestIdleStreamsDoNotStarveSends(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("idle", 1))
	_, srv := streamServer(t, c, false)
	for i := range httpapi.DefaultMaxStreams {
		s := openRaw(t, srv.URL, false)
		if err := s.write(t, "\n"); err != nil {
			t.Fatal(err)
		}
		if status := s.start(t); status != 200 {
			t.Fatalf("stream %d: got %d, want 200", i, status)
		}
	}
	a := &api{url: srv.URL, client: srv.Client()}
	if ans := a.do(t, "POST", "/kafka/send", "application/json", `{"topic":"idle","value":"beside"}`); ans.status != 200 {
		t.Fatalf("send beside %d idle streams: got %d %s, want 200", httpapi.DefaultMaxStreams, ans.status, ans.raw)
	}
	if ans := a.do(t, "POST", "/kafka/send-batch", "application/json", `{"messages":[{"topic":"idle","value":"b"}]}`); ans.status != 200 {
		t.Fatalf("send-batch beside %d idle streams: got %d %s, want 200", httpapi.DefaultMaxStreams, ans.status, ans.raw)
	}
	_, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
	var apiErr *apicontract.Error
	if !errors.As(err, &apiErr) || apiErr.Code != apicontract.CodeOverloaded || apiErr.Status != 503 || apiErr.RetryAfter != 1 {
		t.Fatalf("stream %d: got %v, want an *apicontract.Error, 503 overloaded with Retry-After 1", httpapi.DefaultMaxStreams+1, err)
	}
}

// TestIdleStreamIsClosed: a stream that sends no line for the idle
// timeout is closed, blank lines counting as nothing, and gives its place
// back: with MaxStreams(1) a second stream is refused while the idle one
// is open, and opens once it was closed.
func TestIdleStreamIsClosed(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("quiet", 1))
	// Long enough for the first line's acknowledgement on a loaded
	// machine: the stream must still be open for the second one's 503.
	const idle = time.Second
	_, srv := streamServer(t, c, false, httpapi.StreamIdleTimeout(idle), httpapi.MaxStreams(1))
	s := openRaw(t, srv.URL, false)
	if err := s.write(t, sendLine("quiet", 0)); err != nil {
		t.Fatal(err)
	}
	if m := s.answer(t); m["error"] != nil {
		t.Fatalf("first line: %v", m)
	}
	_, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
	if apiErr, ok := errors.AsType[*apicontract.Error](err); !ok || apiErr.Code != apicontract.CodeOverloaded {
		t.Fatalf("a second stream beside the open one: got %v, want 503 overloaded", err)
	}
	// Blank lines keep coming, faster than the timeout, for at most
	// 30 s: they do not keep the stream open.
	stop := make(chan struct{})
	blanksDone := make(chan struct{})
	go func() {
		defer close(blanksDone)
		tick := time.NewTicker(idle / 6)
		defer tick.Stop()
		for range 30 * time.Second / (idle / 6) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if s.write(t, "\n \r\n") != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-blanksDone }()
	_ = s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	// The answer ends; a client still writing may instead see the
	// connection reset, its unread input dropped when it was closed.
	rest, err := io.ReadAll(s.br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the idle stream was not closed: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("the idle stream answered %q to blank lines, want nothing", rest)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		st, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
		if err != nil {
			return err
		}
		st.Close()
		for range st.Results() {
		}
		return nil
	})
}

// TestStreamLineLongerThanTheWindow: a line over StreamWindowBytes goes
// alone and reserves its excess of MaxInFlightBytes while it is held; when
// the send requests in flight leave no room for the excess the line is
// answered overloaded, and the stream goes on.
func TestStreamLineLongerThanTheWindow(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("long", 1))
	long := func(n int) string { return `{"topic":"long","value":"` + strings.Repeat("x", n) + `"}` }
	const budget = httpapi.StreamWindowBytes + 1000
	_, srv := streamServer(t, c, false, httpapi.MaxInFlightBytes(budget), httpapi.MaxBodyBytes(1<<20))
	stream := func() []string {
		s, err := streamclient.Open(t.Context(), srv.Client(), srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{long(10), long(httpapi.StreamWindowBytes + 50_000), long(20)} {
			if err := s.Send([]byte(line)); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		var got []string
		for r := range s.Results() {
			code := "ok"
			if r.Error != nil {
				code = r.Error.Code
			}
			got = append(got, code)
		}
		return got
	}
	if got, want := stream(), []string{"ok", "ok", "ok"}; !slices.Equal(got, want) {
		t.Errorf("nothing else in flight: answers %v, want %v", got, want)
	}

	// A send whose body is still arriving holds its declared length.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /kafka/send HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", httpapi.StreamWindowBytes)
	a := &api{url: srv.URL, client: srv.Client()}
	probe := `{"topic":"long","value":"probe"}` + strings.Repeat(" ", 2000)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if ans := a.do(t, "POST", "/kafka/send", "application/json", probe); ans.status != 503 {
			return fmt.Errorf("a probe beside the held send got %d, want 503", ans.status)
		}
		return nil
	})
	if got, want := stream(), []string{"ok", apicontract.CodeOverloaded, "ok"}; !slices.Equal(got, want) {
		t.Errorf("a send holding the budget: answers %v, want %v", got, want)
	}
}

// TestStreamWaitingForItsWindowIsNotIdle: the idle time is the client's
// silence, not the server's: a stream whose next line waited for room in
// its window longer than the idle timeout, behind a broker that was slow
// to acknowledge, goes on reading the lines the client had already sent.
func TestStreamWaitingForItsWindowIsNotIdle(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("held-window", 1))
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		first := false
		once.Do(func() { first = true })
		if first {
			close(held)
			c.Fake().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	const idle = 200 * time.Millisecond
	_, srv := streamServer(t, c, false, httpapi.StreamIdleTimeout(idle), httpapi.StreamWindow(1))
	s := openRaw(t, srv.URL, false)
	// Every line and the body's end are sent at once; the second line
	// waits for the first's acknowledgement, which the broker holds.
	if err := s.write(t, sendLine("held-window", 0)+sendLine("held-window", 1)+sendLine("held-window", 2)); err != nil {
		t.Fatal(err)
	}
	s.end(t)
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the first record never reached the broker")
	}
	// The scenario, not a wait for an event: the server stays blocked
	// for longer than the idle timeout.
	<-time.After(3 * idle)
	close(release)
	released = true
	for i := range 3 {
		if m := s.answer(t); m["error"] != nil || m["offset"] != float64(i) {
			t.Fatalf("answer %d: %v, want offset %d", i, m, i)
		}
	}
}

// TestIdleStreamStillAnswersWhatItHandedOver: a stream closed for its
// client's silence still answers the records it had handed to the
// producer, however late the broker acknowledges them, and then ends.
func TestIdleStreamStillAnswersWhatItHandedOver(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("late-ack", 1))
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		once.Do(func() {
			close(held)
			c.Fake().SleepControl(func() { <-release })
		})
		return nil, nil, false
	})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	const idle = 200 * time.Millisecond
	_, srv := streamServer(t, c, false, httpapi.StreamIdleTimeout(idle))
	s := openRaw(t, srv.URL, false)
	// One line, then silence with the body left open: the client waits
	// for its answer.
	if err := s.write(t, sendLine("late-ack", 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the record never reached the broker")
	}
	// The scenario, not a wait for an event: the broker holds the
	// acknowledgement past the idle timeout.
	<-time.After(3 * idle)
	releaseOnce.Do(func() { close(release) })
	if m := s.answer(t); m["error"] != nil || m["offset"] != float64(0) {
		t.Fatalf("the answer to the line handed over: %v, want offset 0", m)
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if rest, err := io.ReadAll(s.br); errors.Is(err, os.ErrDeadlineExceeded) || len(rest) != 0 {
		t.Errorf("after its last answer the idle stream sent %q, %v; want its end", rest, err)
	}
}
