package streamclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/valyala/fastjson"
)

// Result is one answer of a stream: where the record landed, or,
// when Error is set, why that line was not sent or not acknowledged.
type Result struct {
	Topic     string             `json:"topic"`
	Partition int32              `json:"partition"`
	Offset    int64              `json:"offset"`
	Timestamp time.Time          `json:"timestamp"`
	Error     *apicontract.Error `json:"error"`
}

// Stream is a client of POST /kafka/stream: Send writes send bodies, and
// Results yields their answers in the same order. Send is safe for
// concurrent use; a stream's lines keep the order Send was called in.
type Stream struct {
	mu      sync.Mutex
	room    sync.Cond // signalled when the writer takes the queued lines
	queued  []byte    // lines sent and not yet taken by the writer
	spare   []byte    // the writer's previous buffer, for reuse
	closed  bool      // Close was called, or writing failed
	err     error     // why the stream broke
	wake    chan struct{}
	results chan Result
	ctx     context.Context // the stream's, from Open: the reader gives up when it ends
	written chan struct{}   // closed when the writer has returned
}

// queueBytes is how many bytes of lines Send queues before it waits
// for the writer: a server that stops reading slows its senders down.
const queueBytes = 64 << 10

// Open starts a stream to url (the API's base, e.g.
// "http://127.0.0.1:8080") with the bearer token, "" for none. client may
// be nil for http.DefaultClient. ctx bounds the whole stream.
func Open(ctx context.Context, client *http.Client, url, token string) (*Stream, error) {
	if client == nil {
		client = http.DefaultClient
	}
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/kafka/stream", pr)
	if err != nil {
		return nil, fmt.Errorf("streamclient: open stream: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	s := &Stream{wake: make(chan struct{}, 1), results: make(chan Result, 1024), ctx: ctx, written: make(chan struct{})}
	s.room.L = &s.mu
	go s.write(pw)
	resp, err := client.Do(req)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("streamclient: open stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		s.Close()
		return nil, fmt.Errorf("streamclient: open stream: %s: %w", resp.Status, refusal(resp))
	}
	go s.read(resp.Body)
	return s, nil
}

// refusal is the error of an answer other than 200: the API's
// *apicontract.Error, with its status and Retry-After, when the body is
// one, so that callers can tell an overloaded server
// (apicontract.CodeOverloaded) from a refused request.
func refusal(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var answer apicontract.Envelope
	if json.Unmarshal(body, &answer) != nil || answer.Error == nil || answer.Error.Code == "" {
		return errors.New(string(bytes.TrimSpace(body)))
	}
	e := answer.Error
	e.Status = resp.StatusCode
	e.RetryAfter, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
	return e
}

// Send queues one send body, a JSON object, as the stream's next line.
// body is copied. It waits while much is queued and not yet written, and
// fails when body spans lines or the stream is closed or broken.
func (s *Stream) Send(body []byte) error {
	body = bytes.TrimSpace(body)
	if bytes.IndexByte(body, '\n') >= 0 {
		return errors.New("streamclient: stream send: the body spans lines; send compact JSON")
	}
	s.mu.Lock()
	for len(s.queued) >= queueBytes && !s.closed {
		s.room.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		if err := s.Err(); err != nil {
			return fmt.Errorf("streamclient: stream send: %w", err)
		}
		return errors.New("streamclient: stream send: the stream is closed")
	}
	first := len(s.queued) == 0
	s.queued = append(append(s.queued, body...), '\n')
	s.mu.Unlock()
	if first {
		s.signal()
	}
	return nil
}

func (s *Stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close ends the request once the queued lines are written, and returns
// when they are, when writing failed, or when the stream's context ended:
// the goroutine that writes them has then returned. Results then ends
// after the last answer. Send fails after Close.
func (s *Stream) Close() error {
	s.closeSend()
	<-s.written
	return nil
}

// closeSend closes the stream to Send and tells the writer to end the
// request once the queued lines are written.
func (s *Stream) closeSend() {
	s.mu.Lock()
	s.closed = true
	s.room.Broadcast()
	s.mu.Unlock()
	s.signal()
}

// Results yields one answer per line sent, in order, and is closed when
// the server has answered them all, the stream broke (see Err) or its
// context ended. Closing it is the last thing the goroutine that reads the
// answers does, so reading Results to its end, or ending the context,
// is what waits for that goroutine. A caller that stops reading it stalls
// the stream, by design.
func (s *Stream) Results() <-chan Result { return s.results }

// Err is why the stream broke, nil after a clean end; valid once Results
// is closed.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Stream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// write takes all queued lines at once and writes them into the request,
// so that lines are batched under load and never wait idle. Once a write
// fails, the stream is closed to Send.
func (s *Stream) write(pw *io.PipeWriter) {
	defer close(s.written)
	for range s.wake {
		s.mu.Lock()
		lines, closed := s.queued, s.closed
		s.queued, s.spare = s.spare[:0], nil
		s.room.Broadcast()
		s.mu.Unlock()
		if len(lines) > 0 {
			if _, err := pw.Write(lines); err != nil {
				s.fail(err)
				s.closeSend()
				return
			}
		}
		if closed {
			pw.Close()
			return
		}
		s.mu.Lock()
		s.spare = lines[:0]
		s.mu.Unlock()
	}
}

func (s *Stream) read(body io.ReadCloser) {
	defer close(s.results)
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var a answerParser
	for sc.Scan() {
		r, err := a.parse(sc.Bytes())
		if err != nil {
			s.fail(fmt.Errorf("streamclient: stream answer: %w", err))
			return
		}
		select {
		case s.results <- r:
		case <-s.ctx.Done():
			s.fail(fmt.Errorf("streamclient: stream answer: %w", context.Cause(s.ctx)))
			return
		}
	}
	if err := sc.Err(); err != nil {
		s.fail(fmt.Errorf("streamclient: stream answer: %w", err))
	}
}

// answerParser reads answer lines. It parses with fastjson and keeps the
// last topic and timestamp, which answers mostly share, so that an answer
// costs no reflection and no allocation: decoding them with encoding/json
// was the largest cost of a stream's client (bench http --stream: 29% of
// the CPU).
type answerParser struct {
	p     fastjson.Parser
	topic string
	ts    []byte // the last timestamp's text, and its value
	t     time.Time
}

func (a *answerParser) parse(line []byte) (Result, error) {
	v, err := a.p.ParseBytes(line)
	if err != nil {
		return Result{}, err
	}
	o, err := v.Object()
	if err != nil {
		return Result{}, err
	}
	var r Result
	o.Visit(func(name []byte, f *fastjson.Value) {
		switch string(name) {
		case "topic":
			if t := f.GetStringBytes(); string(t) != a.topic {
				a.topic = string(t)
			}
			r.Topic = a.topic
		case "partition":
			r.Partition = int32(f.GetInt())
		case "offset":
			r.Offset = f.GetInt64()
		case "timestamp":
			if ts := f.GetStringBytes(); !bytes.Equal(ts, a.ts) {
				t, perr := time.Parse(time.RFC3339Nano, string(ts))
				if perr != nil {
					err = perr
					return
				}
				a.ts, a.t = append(a.ts[:0], ts...), t
			}
			r.Timestamp = a.t
		case "error":
			r.Error = &apicontract.Error{Code: string(f.GetStringBytes("code")),
				Message: string(f.GetStringBytes("message")), Field: string(f.GetStringBytes("field"))}
		}
	})
	if err != nil {
		return Result{}, err
	}
	return r, nil
}
