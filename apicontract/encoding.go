package apicontract

// The names of the encodings of a key, value or header in the API's JSON:
// a send request names one in key_encoding or value_encoding, and a webhook
// body (also the admin API's messages and dead letters) says which one it
// used. Requests and bodies read and write them from here, so that a name
// is spelled once.
const (
	EncodingString = "string" // a JSON string of the bytes, which are UTF-8
	EncodingJSON   = "json"   // the bytes are the JSON text itself
	EncodingBase64 = "base64" // a JSON string of the bytes in standard base64 with padding
)
