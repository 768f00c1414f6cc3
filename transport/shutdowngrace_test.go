package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/mllptls"
)

// TestShutdownLetsInFlightDeliveryFinish: a message the exchange already
// has when ferry stops, and answers as the stop begins, is delivered, not
// cut off. Shutdown cancelled the Send at once: the sink stopped waiting
// for the AA, the item stayed queued and went again at the next start, a
// duplicate at the exchange for every message in flight at every
// restart. The exchange here (MLLP over mutual TLS, real sockets) holds
// its AA until Shutdown has been called.
func TestShutdownLetsInFlightDeliveryFinish(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 10)
	stopping := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				for {
					f, err := rd.ReadFrame()
					if err != nil {
						return
					}
					m, _ := hl7v2.Parse(f)
					got <- m.ControlID()
					<-stopping
					c.Write(mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK^A01^ACK|A1|P|2.5.1\rMSA|AA|"+m.ControlID()+"\r")))
				}
			}()
		}
	}()

	q, err := diskq.Open(t.TempDir(), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	msg := "MSH|^~\\&|EHR|CLINIC|HIE|HIE|20261125083000||ADT^A01^ADT_A01|C1|P|2.5.1\rPID|1||MRN-1^^^CLINIC^MR||Doe^Pat\r"
	body, err := json.Marshal(fhir.Bundle{ResourceType: "Bundle", Type: "transaction", Entry: []fhir.BundleEntry{
		{Resource: &fhir.Binary{ResourceType: "Binary", ContentType: mllptls.V2ContentType, Data: []byte(msg)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{Key: "k", Body: body, Attrs: map[string]string{"format": "hl7v2"}}); err != nil {
		t.Fatal(err)
	}
	s, err := mllptls.New(mllptls.Config{URL: "mllps://" + ln.Addr().String(), Timeout: 10 * time.Second,
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := transport.NewDispatcher(q, s, transport.DispatcherOptions{Workers: 1})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "C1" {
		t.Fatalf("exchange got %s", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	close(stopping)
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, st := q.Len(), d.Stats(); n != 0 || st.Delivered != 1 {
		t.Errorf("after shutdown %d item(s) queued, %d delivered: the message the exchange acknowledged goes again at the next start", n, st.Delivered)
	}
}
