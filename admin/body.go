package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/kafkakit/kafkakit/apicontract"
)

// maxBody bounds the JSON body of an admin request that changes
// something: the largest, a reset naming many partitions, fits easily.
const maxBody = 64 << 10

// decodeBody reads r's JSON body, at most maxBody bytes, into v,
// refusing unknown fields, so that a misspelt field is an error rather
// than a default silently taken. what names the body in the message.
func decodeBody(r *http.Request, v any, what string) *apicontract.Error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apicontract.Error{Status: http.StatusUnsupportedMediaType, Code: apicontract.CodeUnsupportedMedia, Message: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return badRequest("", "the body must be a JSON object of at most 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := ""
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			field = te.Field
		}
		if fe, ok := errors.AsType[*fieldError](err); ok {
			return badRequest(fe.field, fe.msg)
		}
		return badRequest(field, "the body is not "+what+": "+err.Error())
	}
	if dec.More() {
		return badRequest("", "the body is not "+what+": it holds more than one JSON value")
	}
	return nil
}

// fieldError is a value refused by a type's UnmarshalJSON, naming the
// field at fault, which encoding/json does not pass on.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }
