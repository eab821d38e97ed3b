package httpapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestMalformedJSONIsExplainedPlainly: a syntax error says what was
// expected and where, in words, and quotes nothing of the body beyond one
// character.
func TestMalformedJSONIsExplainedPlainly(t *testing.T) {
	kafkatest.Parallel(t)
	tests := []struct {
		body, want string
	}{
		{`{"topic":"a",5}`, "expected a string for an object key, found '5' at byte 13"},
		{`{"topic" "a"}`, `expected ':' after an object key, found '"' at byte 9`},
		{`{"topic":"a"`, "the body ends before the JSON does: expected ',' or '}' at byte 12"},
		{`{"topic":}`, "expected a value, found '}' at byte 9"},
		{`{"topic":"a",}`, "expected a string for an object key, found '}' at byte 13"},
		{`{"value":[1 2]}`, "expected ',' or ']' after an array element, found '2' at byte 12"},
		{`{"value":[1,]}`, "expected a value, found ']' at byte 12"},
		{`{"topic":"a"} x`, "the body must hold one JSON value, but more follows at byte 14"},
		{`{"topic":"a"}{}`, "the body must hold one JSON value, but more follows at byte 13"},
		{`{"value":NaN}`, "expected a value (strings need quotes; true, false and null are lower case), found 'N' at byte 9"},
		{`{"value":[.5]}`, "expected a value, found '.' at byte 10"},
		{`{"value":tru}`, "expected a value (strings need quotes; true, false and null are lower case), found 't' at byte 9"},
		{`{"value":01}`, "expected ',' or '}' after an object member, found '1' at byte 10"},
		{`{"value":1.}`, "expected a digit after the decimal point in a number, found '}' at byte 11"},
		{`{"value":-}`, "expected a digit in a number, found '}' at byte 10"},
		{`{"value":1e}`, "expected a digit in the exponent in a number, found '}' at byte 11"},
		{`{"value":"\x"}`, `a string holds an unknown escape sequence; use one of \" \\ \/ \b \f \n \r \t \uXXXX at byte 10`},
		{`{"value":"\u12"}`, `a \u escape must be followed by four hexadecimal digits at byte 10`},
		{"{\"value\":\"a\tb\"}", `a control character ('\t') must be escaped in a string at byte 11`},
		{`{"value":"abc`, `the body ends before the JSON does: expected the '"' that ends the string started at byte 9 at byte 13`},
		{`{'topic':'a'}`, "expected a string for an object key, found '\\'' at byte 1"},
		{`hello`, "expected a value (strings need quotes; true, false and null are lower case), found 'h' at byte 0"},
		{"\xff", "expected a value, found byte 0xff at byte 0"},
		{`  {"a":[`, "the body ends before the JSON does: expected a value at byte 8"},
	}
	for _, tt := range tests {
		_, e := parse([]byte(tt.body))
		if e == nil {
			t.Errorf("%s: accepted", tt.body)
			continue
		}
		want := "the request body is not valid JSON: " + tt.want
		if e.Message != want || e.Field != "" || e.Status != 400 {
			t.Errorf("%s:\ngot  %d %q field %q\nwant 400 %q", tt.body, e.Status, e.Message, e.Field, want)
		}
		if internal := regexp.MustCompile(`cannot|unparsed|tail|looking for`); internal.MatchString(e.Message) {
			t.Errorf("%s: %q speaks the decoder's language", tt.body, e.Message)
		}
	}
}

// TestStringsMustBeText: a string that is not valid UTF-8, raw or through
// a lone surrogate escape, is refused naming its field.
func TestScanStringsMustBeText(t *testing.T) {
	kafkatest.Parallel(t)
	tests := []struct {
		body, field, want string
	}{
		{`{"topic":"\ud800"}`, "topic", `holds a lone UTF-16 surrogate (\ud800), which is not text (the string at byte 9)`},
		{`{"topic":"t","key":"a\udc00b"}`, "key", `holds a lone UTF-16 surrogate (\udc00), which is not text (the string at byte 19)`},
		{"{\"topic\":\"t\",\"key\":\"\xff\"}", "key", "is not valid UTF-8 (the string at byte 19)"},
		{`{"topic":"t","value":"\ud83d"}`, "value", `holds a lone UTF-16 surrogate (\ud83d), which is not text (the string at byte 21)`},
		{`{"topic":"t","value":"\ud83d\u0041"}`, "value", `holds a lone UTF-16 surrogate (\ud83d), which is not text (the string at byte 21)`},
		{"{\"topic\":\"t\",\"value\":{\"a\":[1,{\"b\":\"\xed\xa0\x80\"}]}}", "value.a[1].b", "is not valid UTF-8 (the string at byte 34)"},
		{"{\"topic\":\"t\",\"headers\":{\"x\":\"\xc3\"}}", "headers.x", "is not valid UTF-8 (the string at byte 28)"},
		{`{"topic":"t","headers":{"ok":"1","\udfff":"v"}}`, "headers", `has a member name that holds a lone UTF-16 surrogate (\udfff), which is not text (the string at byte 33)`},
		{`{"messages":[{"topic":"t"},{"topic":"t"},{"topic":"t","headers":{"x\u0041":"\ud800"}}]}`, "messages[2].headers.xA", `holds a lone UTF-16 surrogate (\ud800), which is not text (the string at byte 75)`},
	}
	for _, tt := range tests {
		_, e := parse([]byte(tt.body))
		if e == nil {
			t.Errorf("%s: accepted", tt.body)
			continue
		}
		if e.Field != tt.field || e.Message != tt.want || e.Status != 400 {
			t.Errorf("%s:\ngot  %d field %q %q\nwant 400 field %q %q", tt.body, e.Status, e.Field, e.Message, tt.field, tt.want)
		}
	}
	// Paired surrogates and every other escape are text.
	for _, body := range []string{`{"topic":"t","value":"\ud83d\ude00 \u00e9 \" \\ \/ \b \f \n \r \t"}`, `{"topic":"t","key":"\\ud800"}`, "{\"topic\":\"t\",\"value\":\"é😀\"}"} {
		if _, e := parse([]byte(body)); e != nil {
			t.Errorf("%s: refused: %v", body, e)
		}
	}
}

// TestDepthIsLimited: nesting up to MaxDepth is accepted, one level more
// is refused with a short answer, at any size.
func TestDepthIsLimited(t *testing.T) {
	kafkatest.Parallel(t)
	nest := func(depth int) string {
		return `{"topic":"t","value":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
	}
	if _, e := parse([]byte(nest(MaxDepth))); e != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, e)
	}
	for _, body := range []string{nest(MaxDepth + 1), strings.Repeat("[", 100_000), strings.Repeat(`{"a":`, 20_000)} {
		_, e := parse([]byte(body))
		want := fmt.Sprintf("the request body is not valid JSON: arrays and objects nest deeper than %d levels at byte", MaxDepth)
		if e == nil || !strings.HasPrefix(e.Message, want) {
			t.Errorf("%.40s... (%d bytes): got %v, want %q", body, len(body), e, want)
		}
	}
	var v any
	if json.Unmarshal([]byte(nest(MaxDepth)), &v) != nil {
		t.Fatal("the accepted body is not JSON")
	}
}
