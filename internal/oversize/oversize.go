// Package oversize sends an AdmissionReview larger than a webhook's body
// limit the way a hostile client would: over a TLS connection of its own,
// streamed from one 32 KiB chunk so that the sender holds none of it, with a
// Content-Length or chunked, and reading the answer while it is still
// writing. The webhook's flood test and the soak (hack/bench/soak) use it.
package oversize

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"time"
)

// Result is the server's answer and how much of the request got out.
type Result struct {
	Code int
	Body []byte
	// Written counts the bytes written before the server closed the
	// connection (headers included).
	Written int64
}

// Send posts to https://addr/path a valid review of size bytes: a pod in
// namespace, with uid, whose annotation is padded. It gives up after timeout.
func Send(addr string, tlsCfg *tls.Config, path, uid, namespace string, size int, chunked bool, timeout time.Duration) (Result, error) {
	var res Result
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, tlsCfg)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	head := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid +
		`","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"` + namespace + `","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","annotations":{"pad":"`
	tail := `"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`
	hdr := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n"
	if chunked {
		hdr += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		hdr += "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	}

	var written atomic.Int64
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		cw := &countingWriter{w: conn, n: &written}
		if _, err := io.WriteString(cw, hdr); err != nil {
			return
		}
		var body io.Writer = cw
		var chunks io.WriteCloser
		if chunked {
			chunks = httputil.NewChunkedWriter(cw)
			body = chunks
		}
		if _, err := io.WriteString(body, head); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("a"), 32<<10)
		for left := size - len(head) - len(tail); left > 0; left -= len(chunk) {
			if _, err := body.Write(chunk[:min(left, len(chunk))]); err != nil {
				return // the server closed the connection, as it should
			}
		}
		if _, err := io.WriteString(body, tail); err == nil && chunks != nil {
			_ = chunks.Close()
			_, _ = io.WriteString(cw, "\r\n")
		}
	}()

	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+path, nil)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		err = fmt.Errorf("reading the response: %w", err)
	} else {
		res.Code = resp.StatusCode
		if res.Body, err = io.ReadAll(resp.Body); err != nil {
			err = fmt.Errorf("reading the response body: %w", err)
		}
		resp.Body.Close()
	}
	// Closing stops the writer if the server has not already.
	conn.Close()
	<-writeDone
	res.Written = written.Load()
	return res, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
