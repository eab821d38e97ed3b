package httpapi

import (
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/valyala/fastjson"
)

// cloudEventsJSON is the media type of a structured-mode CloudEvent in
// the JSON format (CloudEvents 1.0, JSON Event Format section 3).
const cloudEventsJSON = "application/cloudevents+json"

// ceCore are the context attributes CloudEvents 1.0 defines, in the order
// their ce_ headers are written; extensions follow in the body's order.
// datacontenttype becomes the content-type header instead.
var ceCore = []string{"specversion", "id", "source", "type", "subject", "time", "dataschema"}

// cloudEvent decodes a structured-mode event into a record in the Kafka
// protocol binding's binary mode: attributes as ce_<name> headers,
// datacontenttype as content-type, data as the value and the partitionkey
// extension as the key. A null attribute is an absent one, as the JSON
// format says. Errors name the attribute.
func (r *request) cloudEvent() (producer.Message, *apicontract.Error) {
	var msg producer.Message
	o, _ := r.root.Object() // parse made sure of it
	attrs := make(map[string]*fastjson.Value, o.Len())
	var order []string // extensions, in the body's order
	var dup string
	o.Visit(func(name []byte, v *fastjson.Value) {
		n := string(name)
		if _, seen := attrs[n]; seen && dup == "" {
			dup = n
		}
		attrs[n] = v
		if !slices.Contains(ceCore, n) && n != "datacontenttype" && n != "data" && n != "data_base64" {
			order = append(order, n)
		}
	})
	if dup != "" {
		return msg, invalid(dup, "appears twice in the event")
	}
	for _, n := range []string{"specversion", "id", "source", "type"} {
		if isNull(attrs[n]) {
			return msg, invalid(n, "is required in a CloudEvent")
		}
	}
	if b, _ := attrs["specversion"].StringBytes(); string(b) != "1.0" {
		return msg, invalid("specversion", `must be "1.0", the CloudEvents version this API reads`)
	}
	msg.Headers = make([]producer.Header, 0, len(attrs))
	for _, n := range append(ceCore, order...) {
		v := attrs[n]
		if isNull(v) {
			continue
		}
		b, apiErr := ceAttribute(n, v)
		if apiErr != nil {
			return msg, apiErr
		}
		b = r.keep(b)
		msg.Headers = append(msg.Headers, producer.Header{Key: "ce_" + n, Value: b})
		if n == "partitionkey" {
			msg.Key = b
		}
	}
	return r.ceData(msg, attrs)
}

// ceAttribute checks an attribute against its CloudEvents type and
// returns its canonical string form, the value of its ce_ header, in
// bytes the caller keeps: the body's own, or new ones.
func ceAttribute(name string, v *fastjson.Value) ([]byte, *apicontract.Error) {
	if !validCEName(name) {
		return nil, invalid(name, "is not a CloudEvents attribute name: names are lower-case letters a-z and digits 0-9")
	}
	if v.Type() != fastjson.TypeString {
		if slices.Contains(ceCore, name) {
			return nil, invalid(name, "must be a string")
		}
		return ceExtension(name, v)
	}
	b, _ := v.StringBytes()
	switch name {
	case "id", "source", "type", "subject", "dataschema":
		if len(b) == 0 {
			return nil, invalid(name, "must not be empty")
		}
	}
	switch name {
	case "source":
		if _, err := url.Parse(string(b)); err != nil {
			return nil, invalid(name, "must be a URI-reference: %v", err)
		}
	case "dataschema":
		if u, err := url.Parse(string(b)); err != nil || !u.IsAbs() {
			return nil, invalid(name, "must be an absolute URI")
		}
	case "time":
		if _, err := time.Parse(time.RFC3339Nano, string(b)); err != nil {
			return nil, invalid(name, "must be an RFC 3339 time, not %s", strconv.Quote(snippet(b)))
		}
	}
	return b, nil
}

// ceExtension gives a boolean or integer extension its string form.
func ceExtension(name string, v *fastjson.Value) ([]byte, *apicontract.Error) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return []byte("true"), nil
	case fastjson.TypeFalse:
		return []byte("false"), nil
	case fastjson.TypeNumber:
		raw := v.MarshalTo(nil)
		if n, err := strconv.ParseInt(string(raw), 10, 32); err == nil {
			return strconv.AppendInt(raw[:0], n, 10), nil
		}
		return nil, invalid(name, "must be an integer from -2147483648 to 2147483647, not %s", snippet(raw))
	}
	return nil, invalid(name, "must be a string, a boolean or an integer: CloudEvents attributes are not objects or arrays")
}

func validCEName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ceData sets the content-type header and the value: data_base64's
// bytes; data as compact JSON when datacontenttype is JSON or absent
// (absent then means application/json, and says so); else data as text.
func (r *request) ceData(msg producer.Message, attrs map[string]*fastjson.Value) (producer.Message, *apicontract.Error) {
	data, b64, ct := attrs["data"], attrs["data_base64"], attrs["datacontenttype"]
	_, hasData := attrs["data"]
	if hasData && !isNull(b64) {
		return msg, invalid("data_base64", "cannot be given with data: an event has one or the other")
	}
	contentType, isJSON := "", true
	if !isNull(ct) {
		b, err := ct.StringBytes()
		mt, _, perr := mime.ParseMediaType(string(b))
		if err != nil || perr != nil || !strings.Contains(mt, "/") {
			return msg, invalid("datacontenttype", "must be a media type such as application/json")
		}
		contentType = string(b)
		isJSON = mt == "application/json" || strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")
	} else if hasData {
		contentType = "application/json"
	}
	if contentType != "" {
		msg.Headers = append(msg.Headers, producer.Header{Key: "content-type", Value: r.keep([]byte(contentType))})
	}
	var apiErr *apicontract.Error
	switch {
	case !isNull(b64):
		if b64.Type() != fastjson.TypeString {
			return msg, invalid("data_base64", "must be a string of base64")
		}
		msg.Value, apiErr = r.data(b64, encBase64, "data_base64", "", false)
	case !hasData:
	case isJSON:
		msg.Value, apiErr = r.data(data, encJSON, "data", "", false)
		if isNull(data) {
			msg.Value = r.keep([]byte("null")) // an explicit JSON null payload
		}
	case data.Type() != fastjson.TypeString:
		return msg, invalid("data", "must be a string when datacontenttype is not JSON; send bytes as data_base64")
	default:
		msg.Value, apiErr = r.data(data, encString, "data", "", false)
	}
	return msg, apiErr
}
