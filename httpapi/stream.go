package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/producer"
	"golang.org/x/sync/semaphore"
)

// streamRoute is the path of streams.
const streamRoute = "/kafka/stream"

// ndjson is the media type of POST /kafka/stream, both ways.
const ndjson = "application/x-ndjson"

// DefaultStreamWindow is how many records of one stream may be handed to
// the producer and not yet answered. With the window full the server stops
// reading the stream's request until answers are written, so a client
// that does not read its answers stalls its own stream, and a stream
// holds at most this many records (and at most StreamWindowBytes of their
// lines, a line alone always fitting) whatever its length.
const DefaultStreamWindow = 1000

// StreamWindowBytes bounds the bytes of the lines one stream has handed to
// the producer and not yet answered (MaxBodyBytes if smaller), so that
// MaxStreams streams hold at most MaxStreams times this much. A longer
// line goes alone and reserves its excess of MaxInFlightBytes while it is
// held, or is answered overloaded when that does not fit.
const StreamWindowBytes = 256 << 10

// DefaultMaxStreams is how many streams may be open at once unless
// MaxStreams says otherwise: their windows hold at most 16 MiB together.
const DefaultMaxStreams = 64

// DefaultStreamIdleTimeout is how long a stream may send no line, or read
// no answer, before it is closed, unless StreamIdleTimeout says otherwise.
const DefaultStreamIdleTimeout = 2 * time.Minute

func (h *Handler) streamBytes() int64 { return min(h.opts.maxBodyBytes, StreamWindowBytes) }

// streamFlushBytes is how many answer bytes are gathered before a write
// when more answers are ready: writing each line alone would cost a
// system call per record.
const streamFlushBytes = 32 << 10

// streamItem is one line's answer, in the stream's order.
type streamItem struct {
	done  atomic.Bool     // res or err is set
	wake  chan<- struct{} // the stream's delivered
	res   producer.Result
	err   *apicontract.Error
	size  int64 // the line's bytes, held in the window until answered
	extra int64 // what of size is over the window, held in MaxInFlightBytes
}

// stream is one POST /kafka/stream exchange: the handler's goroutine
// reads lines and hands records over; answer writes the answers in order.
type stream struct {
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController
	win   *window
	queue chan *streamItem
	// delivered is signalled, at most once ahead, whenever the producer
	// answers an item; a channel per item would cost more than the wait.
	delivered chan struct{}
	// broken ends the stream's reading once an answer cannot be
	// written: the client is gone or stopped reading for too long.
	broken context.Context
	cancel context.CancelFunc
	out    []byte
	cache  answerCache // the answers' topic and millisecond, mostly shared
	topic  string      // the last line's topic, valid and copied
	chunk  []byte      // holds the lines' decoded bytes; see arena
}

// stream handles POST /kafka/stream: one send body per line, answered one
// line per record in request order as soon as it and all before it are
// acknowledged. It holds one of MaxStreams places however long it lasts,
// and is closed once its client sends no line for the idle timeout.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	if mediaType(r) != ndjson {
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusUnsupportedMediaType, Code: apicontract.CodeUnsupportedMedia,
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

	s := &stream{h: h, w: w, rc: rc, queue: make(chan *streamItem, h.opts.streamWindow), delivered: make(chan struct{}, 1),
		win: newWindow(h.opts.streamWindow, h.streamBytes(), &h.streamPeak)}
	// Not r.Context() itself: net/http cancels it on any read error,
	// the idle timeout's included, and the records already handed over
	// must still be answered then.
	s.broken, s.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
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
	dr := &deadlineReader{body: r.Body, rc: s.rc, idle: s.h.opts.streamIdle, last: time.Now()}
	lr := lineReader{br: bufio.NewReaderSize(dr, 64<<10), max: s.h.opts.maxBodyBytes}
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && s.broken.Err() == nil {
				s.h.opts.logger.LogAttrs(r.Context(), slog.LevelInfo, "stream closed: no line within the idle timeout",
					slog.Duration("idle", dr.idle), slog.Int("messages", lines))
			}
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
		if it.err != nil {
			it.done.Store(true)
		}
		s.queue <- it // never blocks: the window holds a place for it
		if it.err == nil {
			s.h.sendAsync(r.Context(), msg, it.deliver)
		}
		// The idle time counts from here, where the stream is ready for
		// more: a wait for room in the window is the server's, not the
		// client's silence.
		dr.last = time.Now()
	}
}

// item decodes and checks one line. A bad line's answer is its error; a
// good one's item waits for the answer to its message.
func (s *stream) item(ctx context.Context, line []byte, tooLong bool) (*streamItem, producer.Message) {
	it := &streamItem{size: int64(len(line)), wake: s.delivered}
	if tooLong {
		it.err = &apicontract.Error{Status: http.StatusRequestEntityTooLarge, Code: apicontract.CodeTooLarge,
			Message: "the line is longer than " + strconv.FormatInt(s.h.opts.maxBodyBytes, 10) + " bytes"}
		return it, producer.Message{}
	}
	if over := it.size - s.win.maxBytes; over > 0 {
		// Alone in the window, and more than it: the excess is held in
		// MaxInFlightBytes until the line is answered.
		over = s.h.weigh(over)
		if !s.h.memory.TryAcquire(over) {
			it.err = overloadedBytes
			return it, producer.Message{}
		}
		it.extra = over
	}
	req, apiErr := parseInto(line, s.arena(len(line)))
	if apiErr != nil {
		it.err = apiErr
		return it, producer.Message{}
	}
	req.topic = s.topic // lines mostly share theirs: checked and copied once
	msg, apiErr := req.message(req.root)
	s.topic = req.topic
	if used := len(req.arena); used <= cap(s.chunk)-len(s.chunk) {
		s.chunk = s.chunk[:len(s.chunk)+used]
	} else {
		s.chunk = nil // the arena outgrew the chunk: start another
	}
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
	return it, msg
}

// streamChunk is the size of the allocations that hold the keys, values
// and headers of a stream's records: the records of many lines share one,
// which lives until the last of them is answered.
const streamChunk = 64 << 10

// arena returns room for n bytes in the stream's chunk.
func (s *stream) arena(n int) []byte {
	if cap(s.chunk)-len(s.chunk) < n {
		s.chunk = make([]byte, 0, max(streamChunk, n))
	}
	return s.chunk[len(s.chunk):len(s.chunk)]
}

// deliver is the producer's answer for the item's message.
func (it *streamItem) deliver(r producer.Result) {
	it.res = r
	it.done.Store(true)
	select {
	case it.wake <- struct{}{}:
	default:
	}
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
		if !it.done.Load() {
			s.flush()
			for !it.done.Load() {
				<-s.delivered
			}
		}
		if s.broken.Err() == nil {
			s.out = appendAnswer(s.out, it, &s.cache)
			if len(s.out) >= streamFlushBytes {
				s.flush()
			}
		}
		s.win.release(it.size)
		s.h.memory.Release(it.extra)
	}
}

func appendAnswer(b []byte, it *streamItem, c *answerCache) []byte {
	switch {
	case it.err != nil:
		b = appendFailed(b, it.err)
	case it.res.Err != nil:
		b = appendFailed(b, sendError(it.res.Err))
	default:
		b = appendDelivered(b, it.res, c)
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
// handed over and not yet answered: each takes a slot and its line's
// bytes, at most all of them, so that a line alone always fits. The
// stream's reader acquires; its answer writer releases.
type window struct {
	slots    *semaphore.Weighted
	bytes    *semaphore.Weighted
	maxBytes int64
	held     atomic.Int64  // records in the window
	peak     *atomic.Int64 // the most records any stream held, for tests
}

func newWindow(maxN int, maxBytes int64, peak *atomic.Int64) *window {
	return &window{slots: semaphore.NewWeighted(int64(maxN)), bytes: semaphore.NewWeighted(maxBytes),
		maxBytes: maxBytes, peak: peak}
}

func (w *window) acquire(ctx context.Context, size int64) error {
	if err := w.slots.Acquire(ctx, 1); err != nil {
		return err
	}
	if err := w.bytes.Acquire(ctx, min(size, w.maxBytes)); err != nil {
		w.slots.Release(1)
		return err
	}
	n := w.held.Add(1)
	for p := w.peak.Load(); n > p && !w.peak.CompareAndSwap(p, n); p = w.peak.Load() {
	}
	return nil
}

func (w *window) release(size int64) {
	w.held.Add(-1)
	w.bytes.Release(min(size, w.maxBytes))
	w.slots.Release(1)
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

// deadlineReader gives a stream's body the idle time from the last byte
// that was not white space, or from when the last line was handed over if
// that is later: a stream may last for ever, but not sit silent for ever,
// and blank lines, which carry nothing, do not keep it open. The handler's
// goroutine alone uses it.
type deadlineReader struct {
	body io.Reader
	rc   *http.ResponseController
	idle time.Duration
	last time.Time // the last byte other than white space, or line handed over
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(d.last.Add(d.idle))
	n, err := d.body.Read(p)
	if len(bytes.TrimSpace(p[:n])) > 0 {
		d.last = time.Now()
	}
	return n, err
}
