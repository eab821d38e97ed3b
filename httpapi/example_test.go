package httpapi_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

func ExampleNew() {
	cluster, err := kafkatest.Start(kafkatest.Topic("user-events", 3))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	p, err := producer.New(cluster.Config(), producer.NonBlocking())
	if err != nil {
		panic(err)
	}
	defer p.Close()
	srv := httptest.NewServer(httpapi.New(p, httpapi.Logger(slog.New(slog.DiscardHandler))))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/kafka/send", "application/json",
		strings.NewReader(`{"topic":"user-events","key":"user-123","value":{"type":"user_created"},"partition":1}`))
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"partition":1,"offset":0`))

	resp, err = http.Post(srv.URL+"/kafka/send", "application/json", strings.NewReader(`{"topic":"user events"}`))
	if err != nil {
		panic(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// 200 true
	// 400 {"error":{"code":"invalid_request","message":"has ' ' at position 4; only letters, digits, '.', '_' and '-' are allowed","field":"topic"}}
}
