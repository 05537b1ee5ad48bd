// Command bareserver is server B of hack/bench: the physical limit of the
// webhook's serving path. It runs the project's own webhook server
// (webhook.NewServer with the options `serve` uses: the same TLS setup,
// HTTP/1.1, timeouts and in-flight bound) with a handler that does not
// decode the review: it reads the body as the real handler does, finds the
// request uid with a bytes.Index scan and answers a fixed allowed
// AdmissionReview carrying that uid.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hostprocess-admission/hostprocess-admission/webhook"
)

func main() {
	port := flag.Int("port", 9443, "port to listen on")
	certDir := flag.String("cert-dir", "", "directory holding tls.crt and tls.key")
	maxInFlight := flag.Int("max-in-flight", 64, "reviews handled at once, as serve's --max-in-flight")
	flag.Parse()

	log := zap.New()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	server := webhook.NewServer(webhook.ServerOptions{
		Port:        *port,
		CertDir:     *certDir,
		MaxInFlight: *maxInFlight,
		Log:         log.WithName("server"),
	})
	server.Register(webhook.ValidatePath, http.HandlerFunc(allow))
	server.Register(webhook.MutatePath, http.HandlerFunc(allow))
	if err := server.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var (
	uidKey    = []byte(`"uid":"`)
	respStart = []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"`)
	respEnd   = []byte(`","allowed":true}}`)
)

// allow answers every review with Allowed. The first "uid" key in an
// AdmissionReview the API server writes is request.uid (it is the request's
// first field), so a scan finds it without decoding anything.
func allow(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.DefaultMaxBodyBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var uid []byte
	if i := bytes.Index(body, uidKey); i >= 0 {
		rest := body[i+len(uidKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			uid = rest[:j]
		}
	}
	out := make([]byte, 0, len(respStart)+len(uid)+len(respEnd))
	out = append(append(append(out, respStart...), uid...), respEnd...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}
