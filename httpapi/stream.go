package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/producer"
)

// streamRoute is the path of streams.
const streamRoute = "/kafka/stream"

// ndjson is the media type of POST /kafka/stream, both ways.
const ndjson = "application/x-ndjson"

// DefaultStreamWindow is how many records of one stream may be handed to
// the producer and not yet answered. With the window full the server stops
// reading the stream's request until answers are written, so a client
// that does not read its answers stalls its own stream, and a stream
// holds at most this many records (and at most MaxBodyBytes of their
// lines, a line alone always fitting) whatever its length.
const DefaultStreamWindow = 1000

// streamFlushBytes is how many answer bytes are gathered before a write
// when more answers are ready: writing each line alone would cost a
// system call per record.
const streamFlushBytes = 32 << 10

// readyNow is the ready channel of answers known at once (a bad line).
var readyNow = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// streamItem is one line's answer, in the stream's order.
type streamItem struct {
	ready chan struct{} // closed once res or err is set
	res   producer.Result
	err   *Error
	size  int64 // the line's bytes, held in the window until answered
}

// stream is one POST /kafka/stream exchange: the handler's goroutine
// reads lines and hands records over; answer writes the answers in order.
type stream struct {
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController
	win   window
	queue chan *streamItem
	// broken ends the stream's reading once an answer cannot be
	// written: the client is gone or stopped reading for too long.
	broken context.Context
	cancel context.CancelFunc
	out    []byte
}

// stream handles POST /kafka/stream: one send body per line, answered one
// line per record in request order as soon as it and all before it are
// acknowledged. It holds one MaxInFlight slot however long it lasts.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	if mediaType(r) != ndjson {
		writeError(w, &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
			Message: "Content-Type must be " + ndjson + ": one send body per line"})
		return
	}
	rc := http.NewResponseController(w)
	// HTTP/1.1 answers while the request is still arriving only when
	// asked to; HTTP/2 always does, and says it is not supported.
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", ndjson)
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	s := &stream{h: h, w: w, rc: rc, queue: make(chan *streamItem, h.opts.streamWindow),
		win: window{maxN: h.opts.streamWindow, maxBytes: h.opts.maxBodyBytes, room: make(chan struct{}, 1), peak: &h.streamPeak}}
	s.broken, s.cancel = context.WithCancel(r.Context())
	defer s.cancel()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		s.answer()
	}()
	topic, lines := s.read(r)
	close(s.queue)
	<-answered
	note(w, topic, lines)
}

// read hands over the records of r's lines until the body ends or breaks,
// or the stream breaks, and returns the first topic and the line count.
// A line not ended by a newline when the body broke is never sent.
func (s *stream) read(r *http.Request) (topic string, lines int) {
	idle := s.h.opts.streamIdle
	lr := lineReader{br: bufio.NewReaderSize(deadlineReader{r.Body, s.rc, idle}, 64<<10), max: s.h.opts.maxBodyBytes}
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			return topic, lines
		}
		if !tooLong && len(line) == 0 {
			continue // blank lines carry nothing and get no answer
		}
		size := int64(len(line))
		if s.win.acquire(s.broken, size) != nil || s.broken.Err() != nil {
			return topic, lines
		}
		lines++
		it, msg := s.item(r.Context(), line, tooLong)
		if topic == "" {
			topic = msg.Topic
		}
		s.queue <- it // never blocks: the window holds a place for it
		if it.ready != readyNow {
			s.h.sendAsync(r.Context(), msg, it.deliver)
		}
	}
}

// item decodes and checks one line. A bad line's answer is its error; a
// good one's item waits for the answer to its message.
func (s *stream) item(ctx context.Context, line []byte, tooLong bool) (*streamItem, producer.Message) {
	it := &streamItem{ready: readyNow, size: int64(len(line))}
	if tooLong {
		it.err = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: "the line is longer than " + strconv.FormatInt(s.h.opts.maxBodyBytes, 10) + " bytes"}
		return it, producer.Message{}
	}
	req, apiErr := parse(line)
	if apiErr != nil {
		it.err = apiErr
		return it, producer.Message{}
	}
	msg, apiErr := req.message(req.root)
	req.release()
	if apiErr == nil && msg.Partition != nil {
		cctx, cancel := context.WithTimeout(ctx, s.h.opts.requestTimeout)
		apiErr = s.h.check(cctx, []producer.Message{msg})
		cancel()
	} else if apiErr == nil {
		apiErr = s.h.check(ctx, []producer.Message{msg}) // the allowlist only: no wait
	}
	if apiErr != nil {
		it.err = apiErr
		return it, producer.Message{}
	}
	it.ready = make(chan struct{})
	return it, msg
}

// deliver is the producer's answer for the item's message.
func (it *streamItem) deliver(r producer.Result) {
	it.res = r
	close(it.ready)
}

// answer writes each item's answer once it and all before it are known,
// flushing whenever the next answer is not ready yet. Once a write fails
// it only drains the queue, so that the reader never waits on it.
func (s *stream) answer() {
	for {
		var it *streamItem
		var ok bool
		select {
		case it, ok = <-s.queue:
		default:
			s.flush()
			it, ok = <-s.queue
		}
		if !ok {
			s.flush()
			return
		}
		select {
		case <-it.ready:
		default:
			s.flush()
			<-it.ready
		}
		if s.broken.Err() == nil {
			s.out = appendAnswer(s.out, it)
			if len(s.out) >= streamFlushBytes {
				s.flush()
			}
		}
		s.win.release(it.size)
	}
}

func appendAnswer(b []byte, it *streamItem) []byte {
	switch {
	case it.err != nil:
		b = appendFailed(b, it.err)
	case it.res.Err != nil:
		b = appendFailed(b, sendError(it.res.Err))
	default:
		b = appendDelivered(b, it.res, nil)
	}
	return append(b, '\n')
}

// flush writes the gathered answers. A client that reads none of them for
// the idle time, or is gone, breaks the stream.
func (s *stream) flush() {
	if len(s.out) == 0 || s.broken.Err() != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.h.opts.streamIdle))
	_, err := s.w.Write(s.out)
	if err == nil {
		err = s.rc.Flush()
	}
	s.out = s.out[:0]
	if err != nil {
		s.cancel()
		// Wake a reader waiting for the client's next line.
		_ = s.rc.SetReadDeadline(time.Now())
	}
}

// window bounds the records, and their lines' bytes, that one stream has
// handed over and not yet answered. A line alone always fits.
type window struct {
	mu       sync.Mutex
	n        int
	bytes    int64
	maxN     int
	maxBytes int64
	room     chan struct{} // signalled on release; one reader waits
	peak     *atomic.Int64 // the most records any stream held, for tests
}

func (w *window) acquire(ctx context.Context, size int64) error {
	for {
		w.mu.Lock()
		if w.n < w.maxN && (w.n == 0 || w.bytes+size <= w.maxBytes) {
			w.n++
			w.bytes += size
			n := int64(w.n)
			w.mu.Unlock()
			for p := w.peak.Load(); n > p && !w.peak.CompareAndSwap(p, n); p = w.peak.Load() {
			}
			return nil
		}
		w.mu.Unlock()
		select {
		case <-w.room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *window) release(size int64) {
	w.mu.Lock()
	w.n--
	w.bytes -= size
	w.mu.Unlock()
	select {
	case w.room <- struct{}{}:
	default:
	}
}

// lineReader splits a body into lines of at most max bytes.
type lineReader struct {
	br  *bufio.Reader
	max int64
	buf []byte
}

// next returns the next line without its line ending, valid until the
// next call. A line over max is reported tooLong, its rest skipped. The
// error is io.EOF at the body's clean end; any other error means the body
// broke, and a line it cut short is dropped.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		if len(l.buf) == 0 && err == nil && !tooLong && int64(len(chunk)) <= l.max+1 {
			return bytes.TrimSpace(chunk), false, nil // the common case: no copy
		}
		if !tooLong {
			if int64(len(l.buf)+len(bytes.TrimRight(chunk, "\r\n"))) > l.max {
				tooLong, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSpace(l.buf), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && (len(l.buf) > 0 || tooLong):
			return bytes.TrimSpace(l.buf), tooLong, nil // the last line needs no newline
		default:
			return nil, false, err
		}
	}
}

// deadlineReader gives each read of a stream's body the idle time: a
// stream may last for ever, but not sit silent for ever.
type deadlineReader struct {
	body io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(d.idle))
	return d.body.Read(p)
}
