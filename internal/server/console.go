package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// forConsole reports whether r is the web console's: a request under
// /console/ (or a browser's GET /) that carries no AWS credentials and
// names no AWS operation. A SigV4 or bearer request never reaches the
// console: it goes on to the APIs, which answer it as they would any
// unknown path.
func (s *Server) forConsole(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Amz-Target") != "" || r.URL.Query().Has("X-Amz-Signature") {
		return false
	}
	p := r.URL.Path
	if p == "/console" || strings.HasPrefix(p, "/console/") {
		return true
	}
	return p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// serveConsole serves a console request: GET / is redirected to
// /console/; any other has its body read here — within
// ConsoleMaxBodyBytes, under BodyReadTimeout, charged to the body budget
// — before the console sees it, so a console form is held to the same
// defences as an API call.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		http.Redirect(w, r, "/console/", http.StatusFound)
		return
	}
	body, release, err := readBody(w, r, s.opts.ConsoleMaxBodyBytes, s.opts.BodyReadTimeout, s.bodies)
	defer release()
	if err != nil {
		if r.ProtoMajor == 1 && r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
		awsproto.Info(r.Context()).Err = err
		e := errkind.As(err)
		status := http.StatusBadRequest
		if e.Kind == errkind.Throttled {
			status = http.StatusTooManyRequests
		} else if strings.Contains(e.Message, "exceeds the limit") {
			status = http.StatusRequestEntityTooLarge
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, e.Message+"\n")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.opts.Console.ServeHTTP(w, r)
}
