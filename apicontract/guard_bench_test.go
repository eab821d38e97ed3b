package apicontract

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGuardRoute is what the guard adds to a request: hashing its
// bearer token, looking the digest up among 1000 tokens, and checking
// the route's scope.
func BenchmarkGuardRoute(b *testing.B) {
	var file strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&file, "t%d token-%d-0123456789abcdef read,send:orders.*\n", i, i)
	}
	tokens, err := ReadTokens(strings.NewReader(file.String()))
	if err != nil {
		b.Fatal(err)
	}
	h := NewGuard(tokens).Route("POST /kafka/send", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodPost, "/kafka/send", nil)
	r.Header.Set("Authorization", "Bearer token-500-0123456789abcdef")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}
