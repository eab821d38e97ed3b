package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// StreamResult is one answer of a stream: where the record landed, or,
// when Error is set, why that line was not sent or not acknowledged.
type StreamResult struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Error     *Error    `json:"error"`
}

// Stream is a client of POST /kafka/stream: Send writes send bodies, and
// Results yields their answers in the same order. Send is safe for
// concurrent use; a stream's lines keep the order Send was called in.
type Stream struct {
	lines   chan []byte
	results chan StreamResult
	closing sync.Once
	errMu   sync.Mutex
	err     error
}

// OpenStream starts a stream to url (the API's base, e.g.
// "http://127.0.0.1:8080") with the bearer token, "" for none. client may
// be nil for http.DefaultClient. ctx bounds the whole stream.
func OpenStream(ctx context.Context, client *http.Client, url, token string) (*Stream, error) {
	if client == nil {
		client = http.DefaultClient
	}
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/kafka/stream", pr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: open stream: %w", err)
	}
	req.Header.Set("Content-Type", ndjson)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	s := &Stream{lines: make(chan []byte, 1024), results: make(chan StreamResult, 1024)}
	go s.write(pw)
	resp, err := client.Do(req)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("httpapi: open stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		s.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("httpapi: open stream: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	go s.read(resp.Body)
	return s, nil
}

// Send queues one send body, a JSON object, as the stream's next line.
// body is copied. It fails when body spans lines.
func (s *Stream) Send(body []byte) error {
	body = bytes.TrimSpace(body)
	if bytes.IndexByte(body, '\n') >= 0 {
		return errors.New("httpapi: stream send: the body spans lines; send compact JSON")
	}
	s.lines <- append(append(make([]byte, 0, len(body)+1), body...), '\n')
	return nil
}

// Close ends the request once the queued lines are written; Results then
// ends after the last answer. Send must not be called after Close.
func (s *Stream) Close() error {
	s.closing.Do(func() { close(s.lines) })
	return nil
}

// Results yields one answer per line sent, in order, and is closed when
// the server has answered them all or the stream broke (see Err). A
// caller that stops reading it stalls the stream, by design.
func (s *Stream) Results() <-chan StreamResult { return s.results }

// Err is why the stream broke, nil after a clean end; valid once Results
// is closed.
func (s *Stream) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Stream) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

// write copies queued lines into the request, writing whenever the queue
// runs empty, so that lines are batched under load and never wait idle.
func (s *Stream) write(pw *io.PipeWriter) {
	bw := bufio.NewWriterSize(pw, 64<<10)
	for {
		var line []byte
		var ok bool
		select {
		case line, ok = <-s.lines:
		default:
			if err := bw.Flush(); err != nil {
				s.fail(err)
			}
			line, ok = <-s.lines
		}
		if !ok {
			if err := bw.Flush(); err != nil {
				s.fail(err)
			}
			pw.Close()
			return
		}
		if _, err := bw.Write(line); err != nil {
			s.fail(err)
		}
	}
}

func (s *Stream) read(body io.ReadCloser) {
	defer close(s.results)
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r StreamResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			s.fail(fmt.Errorf("httpapi: stream answer: %w", err))
			return
		}
		s.results <- r
	}
	if err := sc.Err(); err != nil {
		s.fail(fmt.Errorf("httpapi: stream answer: %w", err))
	}
}
