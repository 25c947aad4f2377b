package server

import (
	"net"
	"sync"
)

// clientLimitListener closes, as soon as they are accepted, connections
// from a client address that already holds max of them, so one client
// cannot take every goroutine and buffer the server has. Behind a load
// balancer every connection comes from the balancer's address: raise the
// limit there.
type clientLimitListener struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[string]int
}

func limitPerClient(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &clientLimitListener{Listener: ln, max: max, conns: map[string]int{}}
}

// Accept returns the next connection within its client's limit.
func (l *clientLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := clientHost(c.RemoteAddr())
		l.mu.Lock()
		n := l.conns[host]
		if n >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[host] = n + 1
		l.mu.Unlock()
		return &countedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *clientLimitListener) done(host string) {
	l.mu.Lock()
	if l.conns[host] <= 1 {
		delete(l.conns, host) // the map holds only clients with connections
	} else {
		l.conns[host]--
	}
	l.mu.Unlock()
}

func clientHost(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return string(t.IP.To16())
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	l    *clientLimitListener
	host string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.done(c.host) })
	return c.Conn.Close()
}
