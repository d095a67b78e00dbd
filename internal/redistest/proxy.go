package redistest

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of a Server, on a 127.0.0.1:0 port of its
// own, that can hold back Redis's replies: it plays a Redis that executed a
// command but whose answer comes after the client has stopped waiting (a
// slow network, a busy or failing-over server).
type Proxy struct {
	Addr string // 127.0.0.1:port; point the client here

	target string
	l      net.Listener
	closed chan struct{}
	wg     sync.WaitGroup

	mu        sync.Mutex
	marker    []byte
	remaining int
	delay     time.Duration
	delayed   int
	conns     map[net.Conn]struct{}
}

// NewProxy starts a proxy to target (a Server's Addr); it is closed when
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, closed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// DelayReplies holds back, by d, the reply to each of the next n commands
// whose bytes contain marker (e.g. a key prefix): the command reaches Redis
// at once and is executed there; only its answer is late. Other traffic
// (connection set-up, PING) passes untouched.
func (p *Proxy) DelayReplies(marker string, n int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marker, p.remaining, p.delay = []byte(marker), n, d
}

// Delayed is how many replies have been held back so far.
func (p *Proxy) Delayed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delayed
}

// Close stops the proxy and drops every connection through it.
func (p *Proxy) Close() {
	select {
	case <-p.closed:
		return
	default:
	}
	close(p.closed)
	_ = p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// take reports the delay for a command in chunk, if it is one to delay.
func (p *Proxy) take(chunk []byte) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.remaining <= 0 || len(p.marker) == 0 || !bytes.Contains(chunk, p.marker) {
		return 0
	}
	p.remaining--
	p.delayed++
	return p.delay
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		// Delays decided on the way in, one per command, taken on the way
		// out by the next reply: Redis answers in order, and a client
		// (without pipelining) waits for one reply before its next command.
		delays := make(chan time.Duration, 64)
		closeBoth := func() {
			_ = client.Close()
			_ = server.Close()
			p.track(client, false)
			p.track(server, false)
		}
		p.wg.Add(2)
		go func() { // client -> server
			defer p.wg.Done()
			defer closeBoth()
			buf := make([]byte, 32<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					if d := p.take(buf[:n]); d > 0 {
						delays <- d
					}
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // server -> client
			defer p.wg.Done()
			defer closeBoth()
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 {
					select {
					case d := <-delays:
						select {
						case <-time.After(d): // the late answer under test, not a wait for a result
						case <-p.closed:
							return
						}
					default:
					}
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
