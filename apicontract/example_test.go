package apicontract_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/kafkakit/kafkakit/apicontract"
)

func ExampleWriteError() {
	rec := httptest.NewRecorder()
	apicontract.WriteError(rec, &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded,
		Message: "too many requests in flight; retry later", RetryAfter: 1})
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"))
	fmt.Print(rec.Body.String())
	// Output:
	// 503 1
	// {"error":{"code":"overloaded","message":"too many requests in flight; retry later"}}
}

func ExampleTopicFilter_Allows() {
	f := apicontract.NewTopicFilter([]string{"orders", "audit.*"})
	fmt.Println(f.Allows("orders"), f.Allows("audit.eu"), f.Allows("payments"), f.Allows("__kafkakit_idempotency"))
	// Output: true true false false
}
