package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

type openAPIDoc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas   map[string]map[string]any `json:"schemas"`
		Responses map[string]map[string]any `json:"responses"`
	} `json:"components"`
}

type openAPIOp struct {
	Responses map[string]map[string]any `json:"responses"`
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi version %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIDescribesAnswers sends requests that produce each kind of
// answer and checks that the document lists the status for the route and
// that the body has the fields its schema requires.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	kafkatest.Parallel(t)
	loadDoc(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("docs", 2))
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(New(p, MaxBodyBytes(256), Readiness(nil)))
	defer srv.Close()

	reqs := []struct{ method, path, contentType, body string }{
		{"POST", "/kafka/send", "application/json", `{"topic":"docs","value":1}`},
		{"POST", "/kafka/send", "application/json", `{"topic":""}`},
		{"POST", "/kafka/send", "application/json", `{"topic":"docs","value":"` + strings.Repeat("x", 300) + `"}`},
		{"POST", "/kafka/send", "text/plain", `{}`},
		{"GET", "/kafka/send", "", ""},
		{"POST", "/kafka/send-batch", "application/json", `{"messages":[{"topic":"docs"}]}`},
		{"POST", "/kafka/send-batch", "application/json", `{"messages":[]}`},
		{"POST", "/kafka/send-batch", "text/plain", `{}`},
		{"GET", "/kafka/send-batch", "", ""},
		{"POST", "/kafka/stream", "application/x-ndjson", `{"topic":"docs","value":1}` + "\n{bad\n"},
		{"POST", "/kafka/stream", "text/plain", `{}`},
		{"GET", "/kafka/stream", "", ""},
		{"GET", "/healthz", "", ""},
		{"POST", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/metrics", "", ""},
		{"GET", "/openapi.json", "", ""},
	}
	for _, r := range reqs {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.path == "/metrics" && resp.StatusCode == 404 {
			continue // metrics are optional in this handler
		}
		if err := CheckAnswer(r.path, r.method, resp, body); err != nil {
			t.Error(err)
		}
	}
}

func resolve(doc openAPIDoc, m map[string]any) map[string]any {
	ref, _ := m["$ref"].(string)
	switch {
	case strings.HasPrefix(ref, "#/components/schemas/"):
		return doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	case strings.HasPrefix(ref, "#/components/responses/"):
		return doc.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")]
	}
	return m
}

func responseSchema(doc openAPIDoc, desc map[string]any) map[string]any {
	desc = resolve(doc, desc)
	content, _ := desc["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	return schema
}

// conforms checks v against the parts of JSON Schema the document uses:
// $ref, oneOf, type object with required properties, arrays of items.
func conforms(doc openAPIDoc, schema map[string]any, v any, at string) error {
	schema = resolve(doc, schema)
	if alts, ok := schema["oneOf"].([]any); ok {
		var errs []string
		for _, alt := range alts {
			err := conforms(doc, alt.(map[string]any), v, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s matches no alternative: %s", at, strings.Join(errs, "; "))
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", at)
		}
		req, _ := schema["required"].([]any)
		for _, name := range req {
			if _, ok := obj[name.(string)]; !ok {
				return fmt.Errorf("%s lacks required %s", at, name)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for name, val := range obj {
			if ps, ok := props[name].(map[string]any); ok {
				if err := conforms(doc, ps, val, at+"."+name); err != nil {
					return err
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s is not an array", at)
		}
		items, _ := schema["items"].(map[string]any)
		for i, it := range arr {
			if err := conforms(doc, items, it, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s is not a string", at)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s is not a boolean", at)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s is not an integer", at)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s is %v, not one of %v", at, v, enum)
	}
	return nil
}
