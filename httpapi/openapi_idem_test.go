package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOpenAPIDescribesExactlyOnce sends atomic batches and requests with
// an Idempotency-Key, and checks that the document lists every answer
// (first, replayed, 409 in flight, 422 other body), documents the headers
// they carry and the atomic field, and that the bodies match its schemas.
func TestOpenAPIDescribesExactlyOnce(t *testing.T) {
	kafkatest.Parallel(t)
	var raw map[string]any
	if err := json.Unmarshal(openAPI, &raw); err != nil {
		t.Fatal(err)
	}
	e := &exactlyOnceDoc{t: t, doc: loadDoc(t)}
	c := kafkatest.NewCluster(t, kafkatest.Topic("docs", 1))
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tx, err := producer.NewTransactions(c.Config(), "openapi-test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	store, err := idempotency.Open(t.Context(), c.Config(), time.Hour, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e.srv = httptest.NewServer(New(p, Transactions(tx), Idempotency(store)))
	defer e.srv.Close()

	batch := `{"atomic":true,"messages":[{"topic":"docs","value":1},{"topic":"docs","value":2}]}`
	resp, body := e.post("/kafka/send-batch", `"b-1"`, batch)
	e.check("/kafka/send-batch", resp, body, http.StatusOK)
	resp, body = e.post("/kafka/send-batch", `"b-1"`, batch)
	e.check("/kafka/send-batch", resp, body, http.StatusOK)
	if resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat: Idempotent-Replayed %q, want true", resp.Header.Get("Idempotent-Replayed"))
	}
	resp, body = e.post("/kafka/send-batch", `"b-1"`, `{"messages":[{"topic":"docs"}]}`)
	e.check("/kafka/send-batch", resp, body, http.StatusUnprocessableEntity)
	resp, body = e.post("/kafka/send", `"s-1"`, `{"topic":"docs","value":1}`)
	e.check("/kafka/send", resp, body, http.StatusOK)
	resp, body = e.post("/kafka/send", `"s-1"`, `{"topic":"docs","value":2}`)
	e.check("/kafka/send", resp, body, http.StatusUnprocessableEntity)

	e.checkConflict(c)
	checkIdempotencyRequestSide(t, raw, e.doc)
}

// exactlyOnceDoc sends requests to a server with transactions and an
// idempotency store, and checks its answers against the document.
type exactlyOnceDoc struct {
	t   *testing.T
	doc openAPIDoc
	srv *httptest.Server
}

// post sends body to path with key as its Idempotency-Key, if any. It
// reports a failed request with Error, not Fatal, as it is also called
// from a goroutine of its own.
func (e *exactlyOnceDoc) post(path, key, body string) (*http.Response, []byte) {
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Error(err)
		return &http.Response{}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// check checks that path answered wantStatus, that the document lists
// that answer, that body matches its schema, and that the document lists
// Idempotent-Replayed where the answer carries it.
func (e *exactlyOnceDoc) check(path string, resp *http.Response, body []byte, wantStatus int) {
	t := e.t
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("%s answered %d, want %d: %s", path, resp.StatusCode, wantStatus, body)
		return
	}
	desc, ok := e.doc.Paths[path]["post"].Responses[strconv.Itoa(resp.StatusCode)]
	if !ok {
		t.Errorf("%s answered %d, which openapi.json does not list", path, resp.StatusCode)
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %s", path, body)
		return
	}
	if err := conforms(e.doc, responseSchema(e.doc, desc), v, "body"); err != nil {
		t.Errorf("%s answered %d: %v\n%s", path, resp.StatusCode, err, body)
	}
	if resp.Header.Get("Idempotent-Replayed") != "" {
		if h, _ := resolve(e.doc, desc)["headers"].(map[string]any); h["Idempotent-Replayed"] == nil {
			t.Errorf("%s answered %d with Idempotent-Replayed, which openapi.json does not list there", path, resp.StatusCode)
		}
	}
}

// checkConflict gets the 409: a repeat while the first is held at the
// broker.
func (e *exactlyOnceDoc) checkConflict(c *kafkatest.Cluster) {
	t := e.t
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), "docs")
	if err != nil {
		t.Fatal(err)
	}
	docsID := topics["docs"].ID
	c.Fake().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == "docs" || tp.TopicID == docsID {
				once.Do(func() {
					close(held)
					c.Fake().SleepControl(func() { <-release })
				})
			}
		}
		return nil, nil, false
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.post("/kafka/send", `"s-2"`, `{"topic":"docs","value":3}`)
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first send never reached the broker")
	}
	resp, body := e.post("/kafka/send", `"s-2"`, `{"topic":"docs","value":3}`)
	close(release)
	<-done
	e.check("/kafka/send", resp, body, http.StatusConflict)
}

// checkIdempotencyRequestSide checks the request side: the header
// parameter on both routes, and atomic.
func checkIdempotencyRequestSide(t *testing.T, raw map[string]any, doc openAPIDoc) {
	t.Helper()
	for _, path := range []string{"/kafka/send", "/kafka/send-batch"} {
		params, _ := raw["paths"].(map[string]any)[path].(map[string]any)["post"].(map[string]any)["parameters"].([]any)
		found := false
		for _, prm := range params {
			m := resolve(doc, prm.(map[string]any))
			if m["$ref"] == "#/components/parameters/IdempotencyKey" {
				m = raw["components"].(map[string]any)["parameters"].(map[string]any)["IdempotencyKey"].(map[string]any)
			}
			found = found || m["name"] == "Idempotency-Key" && m["in"] == "header"
		}
		if !found {
			t.Errorf("%s does not describe the Idempotency-Key header", path)
		}
	}
	props, _ := doc.Components.Schemas["BatchRequest"]["properties"].(map[string]any)
	if a, _ := props["atomic"].(map[string]any); a["type"] != "boolean" {
		t.Errorf("BatchRequest.atomic is %v, want a boolean", props["atomic"])
	}
}
