package main

import (
	"io"
	"strings"
	"testing"
)

// TestBadArguments: each bad command line is refused with an error that
// says what to do, before anything starts.
func TestBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: realkafka run"},
		{[]string{"start"}, `unknown command "start": want run or stop`},
		{[]string{"run", "-nodes", "2"}, "2 nodes: want 1 or 3"},
		{[]string{"run", "-nodes", "x"}, "invalid value"},
		{[]string{"run", "-auto-create=maybe"}, "invalid boolean value"},
		{[]string{"stop"}, "-dir is required"},
	}
	for _, tt := range tests {
		err := run(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q): got %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}
