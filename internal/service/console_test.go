package service

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestAdminAPIBehindTokenAndAllowlist: serve mounts the admin API behind
// HTTP_AUTH_TOKEN and HTTP_ALLOWED_TOPICS, next to the send routes.
func TestAdminAPIBehindTokenAndAllowlist(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("shown.a", 1), kafkatest.Topic("hidden", 1))
	url, _, _ := startService(t, c, map[string]string{"HTTP_AUTH_TOKEN": "tok", "HTTP_ALLOWED_TOPICS": "shown.*"})
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/kafka/topics", "", http.StatusUnauthorized},
		{"/kafka/topics", "tok", http.StatusOK},
		{"/kafka/topics/hidden", "tok", http.StatusForbidden},
		{"/kafka/topics/shown.a/messages", "tok", http.StatusOK},
		{"/kafka/groups", "tok", http.StatusOK},
		{"/kafka/consumers", "", http.StatusUnauthorized},
		{"/healthz", "", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || err != nil {
			t.Errorf("GET %s with token %q: got %d (%v), want %d", tc.path, tc.token, resp.StatusCode, err, tc.want)
		}
		if tc.path == "/kafka/topics" && resp.StatusCode == 200 {
			if topics := body["topics"].([]any); len(topics) != 1 {
				t.Errorf("topics %v, want only shown.a", topics)
			}
		}
	}
}

// TestConsoleServedUnlessOff: /console is the page, with its policy; with
// HTTP_CONSOLE=false it is no route.
func TestConsoleServedUnlessOff(t *testing.T) {
	c := kafkatest.NewCluster(t)
	for _, tc := range []struct {
		on   string
		want int
	}{{"", http.StatusOK}, {"false", http.StatusNotFound}} {
		url, _, _ := startService(t, c, map[string]string{"HTTP_CONSOLE": tc.on})
		resp, err := http.Get(url + "/console")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("HTTP_CONSOLE=%q: GET /console got %d, want %d", tc.on, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET /console has no Content-Security-Policy")
		}
	}
}
