package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
)

// badBodies are the malformed requests the API must refuse; they seed the
// fuzzers.
var badBodies = []string{
	``, ` `, `{`, `{"topic":`, `hello`, `[1,2]`, `"events"`, `42`, `null`, `{}{}`,
	`{"topic":"events","valeu":"x"}`, `{"value":"x"}`, `{"topic":null}`, `{"topic":""}`,
	`{"topic":"` + strings.Repeat("t", 250) + `"}`, `{"topic":".."}`, `{"topic":"."}`,
	`{"topic":"my events"}`, `{"topic":"a/b"}`, `{"topic":7}`, `{"topic":"events","key":123}`,
	`{"topic":"events","key":{"a":1}}`, `{"topic":"events","headers":["a"]}`, `{"topic":"events","headers":"a=b"}`,
	`{"topic":"events","headers":{"a":"b","n":1}}`, `{"topic":"events","headers":{"a":null}}`,
	`{"topic":"events","partition":-1}`, `{"topic":"events","partition":1.5}`, `{"topic":"events","partition":"1"}`,
	`{"topic":"events","partition":99999999999}`, `{"topic":"events","value":"\ud800"}`,
	`{"topic":"events","value":NaN}`, `{"topic":"events","value":inf}`, `{"topic":"events","partition":nan}`,
	"{\"topic\":\"ev\u0001ents\"}", `{"topic":"events","value":"\x"}`, `{"topic":"events","value":01}`,
	`{"messages":[]}`, `{"messages":null}`, `{"messages":{"topic":"events"}}`, `{"messages":[{"topic":"a b"}]}`,
	`{"messages":[{"topic":"events"},"events"]}`, `{"messages":[{"topic":"events"}],"extra":true}`,
	strings.Repeat("[", 100_000), strings.Repeat(`{"a":`, 20_000),
	`{"topic":"t","value":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
	"{\"topic\":\"t\",\"key\":\"\xff\"}", `{"topic":"t","headers":{"\udc00":"v"}}`,
	`{"topic":"t","` + strings.Repeat("0", 150) + `":1}`, `{"messages":[{"topic":"t"}],"` + strings.Repeat("é", 100) + `":1}`,
}

var goodBodies = []string{
	`{"topic":"user-events","key":"user-123","value":{"userId":"123"},"headers":{"source":"svc"},"partition":2}`,
	`{"topic":"t","value":null}`, `{"topic":"t","value":"text"}`, `{"topic":"t","value":[1,2,{"a":null}]}`,
	`{"messages":[{"topic":"t","value":1},{"topic":"u","key":"k"}]}`,
}

// FuzzSendRequest feeds arbitrary bodies to the /kafka/send decoder: it
// must never panic, must refuse with a 400 that says what is wrong, and
// what it accepts must be a valid message.
func FuzzSendRequest(f *testing.F) {
	for _, b := range append(badBodies, goodBodies...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, apiErr := parse(body)
		if apiErr == nil {
			msg, err := req.message(req.root)
			req.release()
			if err != nil {
				apiErr = err
			} else {
				if config.ValidateTopic(msg.Topic) != nil {
					t.Fatalf("accepted invalid topic %q", msg.Topic)
				}
				if msg.Partition != nil && *msg.Partition < 0 {
					t.Fatalf("accepted negative partition %d", *msg.Partition)
				}
				return
			}
		}
		checkRefusal(t, apiErr)
	})
}

// FuzzBatchRequest does the same for /kafka/send-batch.
func FuzzBatchRequest(f *testing.F) {
	for _, b := range append(badBodies, goodBodies...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, _, apiErr := decodeBatch(body, 50)
		if apiErr != nil {
			checkRefusal(t, apiErr)
			return
		}
		if len(msgs) == 0 || len(msgs) > 50 {
			t.Fatalf("accepted a batch of %d", len(msgs))
		}
		for _, m := range msgs {
			if config.ValidateTopic(m.Topic) != nil {
				t.Fatalf("accepted invalid topic %q", m.Topic)
			}
		}
	})
}

// FuzzScan holds the scanner to encoding/json's idea of valid JSON: it
// accepts exactly the valid JSON that is UTF-8 text and nests at most
// MaxDepth deep, and its refusals are short whatever the body.
func FuzzScan(f *testing.F) {
	for _, b := range append(badBodies, goodBodies...) {
		f.Add([]byte(b))
	}
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Add([]byte(`"\ud83d\ude00"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := scanner{b: body}
		e := s.scan()
		valid := json.Valid(body)
		switch {
		case e == nil:
			if !valid || !utf8.Valid(body) || depthOf(body) > MaxDepth {
				t.Fatalf("accepted %q: valid %v, UTF-8 %v, depth %d", body, valid, utf8.Valid(body), depthOf(body))
			}
		case e.text:
			if utf8.Valid(body) && !bytes.Contains(bytes.ToLower(body), []byte(`\ud`)) {
				t.Fatalf("refused %q as not text: %s", body, e.message)
			}
		case valid && depthOf(body) <= MaxDepth:
			t.Fatalf("refused valid %q: %s at byte %d", body, e.message, e.offset)
		}
		if e != nil {
			if msg := e.apiError(body).Error(); len(msg) > 300 || e.offset < 0 || e.offset > len(body) {
				t.Fatalf("refusal of %d bytes at offset %d: %q", len(msg), e.offset, msg)
			}
		}
	})
}

// depthOf is how deeply valid JSON nests, from encoding/json's tokens.
func depthOf(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

func checkRefusal(t *testing.T, e *apicontract.Error) {
	t.Helper()
	if e.Status != http.StatusBadRequest || e.Code != apicontract.CodeInvalidRequest || e.Message == "" {
		t.Fatalf("refusal %+v: want a 400 invalid_request with a message", e)
	}
	if len(e.Message)+len(e.Field) > 300 {
		t.Fatalf("refusal of %d bytes: %.100s...", len(e.Message), e.Message)
	}
}
