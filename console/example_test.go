package console_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/kafkakit/kafkakit/console"
)

func ExampleHandler() {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/console")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// 200 text/html; charset=utf-8
}
