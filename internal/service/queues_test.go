package service

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestQueueVariables: the queue variables' defaults, and each bad value a
// clear error naming its variable, the secret never shown.
func TestQueueVariables(t *testing.T) {
	def, err := FromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.QueueSecret.Reveal() != "" || def.AdvertisedURL != "" || def.QueueMaxMembers != 64 || def.QueueIdleTimeout.Seconds() != 60 {
		t.Errorf("defaults: secret set %v, url %q, members %d, idle %v", def.QueueSecret.Reveal() != "", def.AdvertisedURL, def.QueueMaxMembers, def.QueueIdleTimeout)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HTTP_QUEUE_SECRET": "short-secret"}, "HTTP_QUEUE_SECRET is 12 bytes long; it must have at least 16"},
		{map[string]string{"HTTP_QUEUE_SECRET": "a secret long enough"}, "HTTP_ADVERTISED_URL must be set with HTTP_QUEUE_SECRET"},
		{map[string]string{"HTTP_ADVERTISED_URL": "10.0.0.5:8080"}, `HTTP_ADVERTISED_URL: "10.0.0.5:8080" is not a base URL`},
		{map[string]string{"HTTP_ADVERTISED_URL": "http://10.0.0.5:8080/api"}, `HTTP_ADVERTISED_URL: "http://10.0.0.5:8080/api" is not a base URL`},
		{map[string]string{"HTTP_QUEUE_MAX_MEMBERS": "0"}, `HTTP_QUEUE_MAX_MEMBERS: "0" must be between 1 and 4096`},
		{map[string]string{"HTTP_QUEUE_IDLE_TIMEOUT": "soon"}, `HTTP_QUEUE_IDLE_TIMEOUT: "soon"`},
	} {
		_, err := FromEnv(env.Map(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret long enough") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	cfg, err := FromEnv(env.Map(map[string]string{"HTTP_QUEUE_SECRET": "a secret long enough", "HTTP_ADVERTISED_URL": "http://10.0.0.5:8080"}))
	if err != nil || cfg.QueueSecret.Reveal() != "a secret long enough" || cfg.AdvertisedURL != "http://10.0.0.5:8080" {
		t.Errorf("got %v %+v", err, cfg)
	}
}

// TestServeMountsQueues: serve answers the queue routes, behind its token.
func TestServeMountsQueues(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("queued", 1))
	base, stop, _ := startService(t, c, map[string]string{"HTTP_AUTH_TOKEN": "tok"})
	defer stop()
	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/kafka/queues/g/receive", strings.NewReader(`{"topics":["queued"],"wait_ms":0}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(""); status != http.StatusUnauthorized {
		t.Errorf("without the token: %d %s, want 401", status, body)
	}
	if status, body := post("tok"); status != http.StatusOK || !strings.Contains(body, `"records":[`) {
		t.Errorf("with the token: %d %s, want 200 with records", status, body)
	}
}
