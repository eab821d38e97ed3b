package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/producer"
)

// StartAPI serves kafkakit's HTTP API in this process on 127.0.0.1, the
// way `kafkakit serve` does (a non-blocking producer), and returns its URL
// and a stop function.
func StartAPI(cfg config.Kafka) (string, func(), error) {
	p, err := producer.New(quietConfig(cfg), producer.Logger(quiet), producer.NonBlocking())
	if err != nil {
		return "", nil, err
	}
	tx, err := benchTransactions(cfg)
	if err != nil {
		p.Close()
		return "", nil, err
	}
	opts := []httpapi.Option{httpapi.Logger(quiet), httpapi.RequestTimeout(cfg.RequestTimeout)}
	stopTx := func() {}
	if tx != nil {
		opts, stopTx = append(opts, httpapi.Transactions(tx)), tx.Close
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.Close()
		stopTx()
		return "", nil, err
	}
	srv := &http.Server{Handler: httpapi.New(p, opts...), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		srv.Close()
		stopTx()
		p.Close()
	}, nil
}

// benchTransactions is the pool of atomic batches, as `serve` has it (4
// clients), with ids of this process alone; connected on first use. It is
// nil when production is not idempotent: atomic batches are then refused,
// as by `serve`.
func benchTransactions(cfg config.Kafka) (*producer.Transactions, error) {
	if !cfg.Producer.Idempotent() {
		return nil, nil
	}
	prefix := fmt.Sprintf("kafkakit-bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	return producer.NewTransactions(quietConfig(cfg), prefix, 4, producer.Logger(quiet))
}

// StartNoop serves, on 127.0.0.1, the routes of kafkakit's HTTP API with
// handlers that read the request and answer as kafkakit would, without
// decoding anything or sending to Kafka. Pushing to it with HTTP measures
// what net/http and the loopback cost by themselves: the ceiling of any
// handler on this machine.
func StartNoop() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var offset atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /kafka/send", func(w http.ResponseWriter, r *http.Request) {
		if _, err := readNoopBody(r); err != nil {
			return
		}
		writeNoopAnswer(w, appendNoopResult(make([]byte, 0, 128), offset.Add(1)))
	})
	mux.HandleFunc("POST /kafka/send-batch", func(w http.ResponseWriter, r *http.Request) {
		body, err := readNoopBody(r)
		if err != nil {
			return
		}
		n := bytes.Count(body, []byte(`{"topic":`))
		out := append(make([]byte, 0, 16+n*96), `{"results":[`...)
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendNoopResult(out, offset.Add(1))
		}
		writeNoopAnswer(w, append(out, "]}"...))
	})
	mux.HandleFunc("POST /kafka/stream", func(w http.ResponseWriter, r *http.Request) {
		noopStream(w, r, &offset)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// noopStream answers each line of a stream with a delivery result, as
// kafkakit does, writing whenever no more of the request is buffered.
func noopStream(w http.ResponseWriter, r *http.Request, offset *atomic.Int64) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush() // the client waits for the header before it sends
	br := bufio.NewReaderSize(r.Body, 64<<10)
	var out []byte
	for {
		_, err := br.ReadSlice('\n')
		if err == nil {
			out = append(appendNoopResult(out, offset.Add(1)), '\n')
		}
		if len(out) > 0 && (br.Buffered() == 0 || err != nil || len(out) >= 32<<10) {
			if _, werr := w.Write(out); werr != nil {
				return
			}
			_ = rc.Flush()
			out = out[:0]
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// readNoopBody reads a request's body as kafkakit's handlers do: all of
// it, into a buffer of its declared length.
func readNoopBody(r *http.Request) ([]byte, error) {
	if r.ContentLength < 0 {
		return io.ReadAll(r.Body)
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, body)
	return body, err
}

// appendNoopResult appends a delivery result of the size kafkakit's are.
func appendNoopResult(b []byte, offset int64) []byte {
	b = append(b, `{"topic":"bench","partition":0,"offset":`...)
	b = strconv.AppendInt(b, offset, 10)
	return append(b, `,"timestamp":"2026-01-01T00:00:00.000Z"}`...)
}

func writeNoopAnswer(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body) + 1)}
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
}

// maxRefusalPause caps how long a sender honours Retry-After: the load
// test pushes as fast as the service lets it.
const maxRefusalPause = 50 * time.Millisecond

// HTTP sends w.Messages to url's /kafka/send (w.Batch == 0) or
// /kafka/send-batch in batches of w.Batch, from w.Concurrency keep-alive
// connections. Messages refused with 503 or 429 are counted and sent
// again after a short pause. acked[i] reports whether message i was
// acknowledged; its value starts with i and a space.
func HTTP(ctx context.Context, url string, w Workload) (Result, []bool, error) {
	name := "HTTP /kafka/send"
	switch {
	case w.Streams > 0:
		return HTTPStream(ctx, url, w)
	case w.Batch > 0:
		name = fmt.Sprintf("HTTP /kafka/send-batch x%d", w.Batch)
	}
	if w.Async {
		name += " (respond-async)"
	}
	if w.Atomic {
		name += " atomic"
	}
	return httpRun(ctx, name, url, w)
}

// HTTPNoop is HTTP against a StartNoop server.
func HTTPNoop(ctx context.Context, url string, w Workload) (Result, error) {
	if w.Streams > 0 {
		r, _, err := HTTPStream(ctx, url, w)
		r.Name = NoopName(w)
		return r, err
	}
	r, _, err := httpRun(ctx, NoopName(w), url, w)
	return r, err
}

// NoopName is the name of HTTPNoop's result for w.
func NoopName(w Workload) string {
	if w.Streams > 0 {
		return "net/http no-op stream"
	}
	return "net/http no-op"
}

func httpRun(ctx context.Context, name, url string, w Workload) (Result, []bool, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	// One load connection per sender, handed out as senders start.
	conns := make(chan *loadConn, w.Concurrency)
	for range w.Concurrency {
		c, err := dialLoad(url)
		if err != nil {
			return Result{}, nil, err
		}
		defer c.Close()
		c.async = w.Async
		conns <- c
	}
	acked := make([]bool, w.Messages)
	var mu sync.Mutex
	refused := 0
	per := max(w.Batch, 1)
	requests := (w.Messages + per - 1) / per
	res, err := measure(name, w, func() (int, []time.Duration, error) {
		_, lat, err := split(requests, w.Concurrency, func(req int) (time.Duration, error) {
			first := req * per
			todo := make([]int, 0, per)
			for i := first; i < min(first+per, w.Messages); i++ {
				todo = append(todo, i)
			}
			c := <-conns
			defer func() { conns <- c }()
			start := time.Now()
			for len(todo) > 0 {
				failed, n, err := post(c, w, todo)
				if err != nil {
					return 0, err
				}
				mu.Lock()
				refused += n
				for _, i := range todo {
					acked[i] = true
				}
				for _, i := range failed {
					acked[i] = false
				}
				mu.Unlock()
				w.progress(len(todo) - len(failed))
				todo = failed
				if len(failed) > 0 && !pause(ctx, maxRefusalPause) {
					return 0, ctx.Err()
				}
			}
			return time.Since(start), nil
		})
		return countAcked(acked), lat, err
	})
	res.Name, res.Refused = name, refused
	return res, acked, err
}

// post sends the messages todo in one request and returns those refused
// for overload, to send again; any other failure is an error.
func post(c *loadConn, w Workload, todo []int) (failed []int, refused int, err error) {
	// The load generator shares the CPU it measures: it builds each body
	// in its connection's buffer and quotes the topic once.
	body := c.reqBody[:0]
	topic := strconv.Quote(w.Topic)
	defer func() { c.reqBody = body }()
	path := "/kafka/send"
	if w.Batch > 0 {
		path = "/kafka/send-batch"
		if w.Atomic {
			body = append(body, `{"atomic":true,"messages":[`...)
		} else {
			body = append(body, `{"messages":[`...)
		}
	}
	for j, i := range todo {
		if j > 0 {
			body = append(body, ',')
		}
		body = appendSendBody(body, topic, i, w)
	}
	if w.Batch > 0 {
		body = append(body, `]}`...)
	}
	status, raw, err := c.post(path, body)
	if err != nil {
		return nil, 0, err
	}
	overloaded := status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
	var out struct {
		Results []struct {
			Error *struct{ Code string } `json:"error"`
		} `json:"results"`
	}
	switch {
	case status == http.StatusOK, status == http.StatusAccepted && w.Async:
		return nil, 0, nil
	case w.Batch > 0 && json.Unmarshal(raw, &out) == nil && len(out.Results) == len(todo):
		for j, r := range out.Results {
			if r.Error == nil {
				continue
			}
			if r.Error.Code != apicontract.CodeOverloaded {
				return nil, 0, fmt.Errorf("message %d: %s", todo[j], r.Error.Code)
			}
			failed = append(failed, todo[j])
		}
		return failed, len(failed), nil
	case overloaded:
		return todo, len(todo), nil
	}
	return nil, 0, fmt.Errorf("%s answered %d: %s", path, status, raw)
}

// appendSendBody appends message i's send body; topic is quoted.
func appendSendBody(body []byte, topic string, i int, w Workload) []byte {
	body = append(body, `{"topic":`...)
	body = append(body, topic...)
	if k := key(i, w.Keys); k != nil {
		body = append(body, `,"key":`...)
		body = strconv.AppendQuote(body, string(k))
	}
	body = append(body, `,"value":"`...)
	body = appendHTTPValue(body, i, w.Size)
	return append(body, `"}`...)
}

// appendHTTPValue appends message i's value over HTTP: its number, a
// space, padding to size; nothing that needs escaping.
func appendHTTPValue(b []byte, i, size int) []byte {
	start := len(b)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ' ')
	for pad := size - (len(b) - start); pad > 0; pad -= len(padding) {
		b = append(b, padding[:min(pad, len(padding))]...)
	}
	return b
}

var padding = bytes.Repeat([]byte{'x'}, 1024)
