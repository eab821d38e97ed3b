package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// loadConn is a minimal HTTP/1.1 keep-alive client for one connection, in
// the spirit of wrk: it writes a request and reads the status and body of
// the answer, and nothing else, so that the load generator costs little of
// the CPU it shares with the service it measures. It speaks only what
// kafkakit answers: Content-Length bodies, no chunking, no TLS.
type loadConn struct {
	host    string
	conn    net.Conn // nil after the server closed it
	closing bool     // the server said Connection: close
	r       *bufio.Reader
	buf     []byte
	body    []byte
	reqBody []byte // for the caller to build request bodies in
	async   bool   // ask for Prefer: respond-async
}

func dialLoad(target string) (*loadConn, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("load client: only http:// targets, not %s", u.Scheme)
	}
	c := &loadConn{host: u.Host}
	return c, c.dial()
}

func (c *loadConn) dial() error {
	conn, err := net.DialTimeout("tcp", c.host, 10*time.Second)
	if err != nil {
		return err
	}
	c.conn, c.closing = conn, false
	if c.r == nil {
		c.r = bufio.NewReaderSize(conn, 64<<10)
	} else {
		c.r.Reset(conn)
	}
	return nil
}

func (c *loadConn) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// post sends body to path, reconnecting first if the server closed the
// connection after its last answer (as it does after refusing a body it
// did not read), and returns the status and the answer's body, valid
// until the next post.
func (c *loadConn) post(path string, body []byte) (int, []byte, error) {
	if c.closing {
		c.conn.Close()
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	return c.exchange(path, body)
}

func (c *loadConn) exchange(path string, body []byte) (int, []byte, error) {
	c.buf = append(c.buf[:0], "POST "...)
	c.buf = append(c.buf, path...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, c.host...)
	c.buf = append(c.buf, "\r\nContent-Type: application/json\r\n"...)
	if c.async {
		c.buf = append(c.buf, "Prefer: respond-async\r\n"...)
	}
	c.buf = append(c.buf, "Content-Length: "...)
	c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("load client: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("load client: bad status line %q", line)
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		switch {
		case !ok:
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return 0, nil, fmt.Errorf("load client: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(bytes.TrimSpace(value), []byte("close")):
			c.closing = true
		}
	}
	if length < 0 {
		return 0, nil, errors.New("load client: answer without Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, nil, err
	}
	return status, c.body, nil
}
