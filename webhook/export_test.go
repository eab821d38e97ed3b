package webhook

// SignForTest exposes the signature of one call for the published test
// vector, whose id and timestamp a real delivery cannot choose.
func SignForTest(s Secret, id string, timestamp int64, body []byte) string {
	return s.sign(id, timestamp, body)
}
