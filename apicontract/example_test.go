package apicontract_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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

func ExampleReadTokens() {
	tokens, err := apicontract.ReadTokens(strings.NewReader(`# <name> <token> <scope>[,<scope>...]
orders  9fQx2mB7-orders-token  send:orders.*,read
ops     Jx81kq0Z-ops-token     read,replay,admin
`))
	fmt.Println(tokens.Len(), err)

	_, err = apicontract.ReadTokens(strings.NewReader("orders 9fQx2mB7-orders-token send\n"))
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// line 1: the scopes (third field): scope 1 of 1: send needs a topic pattern (send:<topic>, send:<prefix>*, or send:* for every topic)
}
