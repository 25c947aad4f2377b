// Package mailtest is a tiny in-process SMTP server for tests: it accepts
// every message (no TLS, no authentication) and keeps what it received.
package mailtest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// Mail is one received message.
type Mail struct {
	From string
	To   []string
	Data string // the message as sent, dot-unstuffed, CRLF line ends
}

// Server is a running SMTP server.
type Server struct {
	Addr string

	ln   net.Listener
	mu   sync.Mutex
	mail []Mail
	wg   sync.WaitGroup
	// Reject, when set, is answered to DATA's end instead of 250 (e.g.
	// "451 try later" or "550 no such user").
	reject string
}

// Start starts a server on a free loopback port, stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// SetReject makes the server answer reply (e.g. "451 4.3.0 try later") to
// every message; "" accepts again.
func (s *Server) SetReject(reply string) {
	s.mu.Lock()
	s.reject = reply
	s.mu.Unlock()
}

// Mail returns the messages received so far.
func (s *Server) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 mailtest ready")
	var cur Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			say("250 mailtest")
		case "MAIL":
			cur = Mail{From: addr(line)}
			say("250 ok")
		case "RCPT":
			cur.To = append(cur.To, addr(line))
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = b.String()
			s.mu.Lock()
			reject := s.reject
			if reject == "" {
				s.mail = append(s.mail, cur)
			}
			s.mu.Unlock()
			if reject != "" {
				say(reject)
			} else {
				say("250 queued")
			}
		case "RSET", "NOOP":
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func addr(line string) string {
	if i := strings.IndexByte(line, '<'); i >= 0 {
		if j := strings.IndexByte(line[i:], '>'); j >= 0 {
			return line[i+1 : i+j]
		}
	}
	return ""
}
