// Package httpstatus records the status an HTTP handler answers with, for
// the API's access log and metrics and for tracing's server spans, which
// would otherwise each wrap the writer their own way.
package httpstatus

import "net/http"

// Recorder is an http.ResponseWriter that remembers the final status
// written through it. Its zero Status means nothing was written yet.
type Recorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first final status; 1xx answers are
// informational and come before it.
func (w *Recorder) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written, as net/http sends.
func (w *Recorder) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Code is the status the client got: 200 when the handler wrote nothing.
func (w *Recorder) Code() int {
	if w.Status == 0 {
		return http.StatusOK
	}
	return w.Status
}
