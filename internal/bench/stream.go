package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/streamclient"
)

// HTTPStream sends w.Messages over w.Streams POST /kafka/stream at once,
// each carrying an equal share, through httpapi's stream client. A line
// answered overloaded is sent again on the same stream. acked[i] reports
// whether message i was acknowledged.
func HTTPStream(ctx context.Context, url string, w Workload) (Result, []bool, error) {
	ctx, cancel := ctxOrTimeout(ctx)
	defer cancel()
	name := fmt.Sprintf("HTTP /kafka/stream x%d", w.Streams)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: w.Streams, MaxIdleConnsPerHost: w.Streams}}
	defer client.CloseIdleConnections()
	acked := make([]bool, w.Messages)
	var mu sync.Mutex
	refused := 0
	res, err := measure(name, w, func() (int, []time.Duration, error) {
		errs := make(chan error, w.Streams)
		for s := range w.Streams {
			go func() {
				var todo []int
				for i := s; i < w.Messages; i += w.Streams {
					todo = append(todo, i)
				}
				n, err := streamShare(ctx, client, url, w, todo, acked)
				mu.Lock()
				refused += n
				mu.Unlock()
				errs <- err
			}()
		}
		var first error
		for range w.Streams {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return countAcked(acked), nil, first
	})
	res.Name, res.Refused = name, refused
	return res, acked, err
}

// streamShare sends the messages todo over one stream, again while some
// are answered overloaded, and returns how many answers were.
func streamShare(ctx context.Context, client *http.Client, url string, w Workload, todo []int, acked []bool) (int, error) {
	refused := 0
	topic := strconv.Quote(w.Topic)
	for len(todo) > 0 {
		s, err := streamclient.Open(ctx, client, url, "")
		var apiErr *apicontract.Error
		if errors.As(err, &apiErr) && apiErr.Code == apicontract.CodeOverloaded {
			// Too many streams or bytes in flight: open it again soon.
			if !pause(ctx, maxRefusalPause) {
				return refused, ctx.Err()
			}
			continue
		}
		if err != nil {
			return refused, err
		}
		go func() {
			var body []byte
			for _, i := range todo {
				body = appendSendBody(body[:0], topic, i, w)
				_ = s.Send(body)
			}
			s.Close()
		}()
		var again []int
		j := 0
		for r := range s.Results() {
			i := todo[j]
			j++
			switch {
			case r.Error == nil:
				acked[i] = true // each index belongs to one stream
				w.progress(1)
				if !pause(ctx, w.ReadDelay) {
					return refused, ctx.Err()
				}
			case r.Error.Code == apicontract.CodeOverloaded:
				again = append(again, i)
			default:
				return refused, fmt.Errorf("bench: message %d: %s", i, r.Error.Code)
			}
		}
		if err := s.Err(); err != nil {
			return refused, err
		}
		if j != len(todo) {
			return refused, fmt.Errorf("bench: the stream answered %d of %d lines", j, len(todo))
		}
		refused += len(again)
		todo = again
	}
	return refused, nil
}

// pause waits d (a slow reader's, or before sending what was refused
// again) and reports false if ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// countAcked is how many messages were acknowledged.
func countAcked(acked []bool) int {
	n := 0
	for _, a := range acked {
		if a {
			n++
		}
	}
	return n
}
