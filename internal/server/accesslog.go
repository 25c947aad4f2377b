package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// attrPool holds the access-log lines' attribute slices, reused from line
// to line.
var attrPool = sync.Pool{New: func() any {
	s := make([]slog.Attr, 0, 32)
	return &s
}}

// accessLog writes a request's access-log line. It builds the line's
// attributes in a pooled slice and skips the work when the logger would
// drop the line. With Options.AccessLog it formats the line itself and
// buffers it there (no allocation for a plain line; the error's text and
// the principal's ARN allocate when there are); otherwise slog formats
// and writes it (the slog.Record's own copy of attributes past its fifth
// is one allocation more).
func (s *Server) accessLog(r *http.Request, sw *statusWriter, info *awsproto.RequestInfo, d time.Duration) {
	// Levels: probes (/healthz, /readyz, /metrics) that succeed at DEBUG;
	// every other request at INFO; ERROR only for Tollgate's own faults
	// (internal or unavailable, answered 5xx), never for a client error.
	level := slog.LevelInfo
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		if sw.status < 400 {
			level = slog.LevelDebug
		}
	}
	var e *errkind.Error
	if info.Err != nil {
		e = errkind.As(info.Err)
		if (e.Kind == errkind.Internal || e.Kind == errkind.Unavailable) && (sw.status < 400 || sw.status >= 500) {
			level = slog.LevelError
		}
	}
	ctx := context.Background()
	if s.log.Enabled(ctx, level) {
		path := info.Path
		if path == "" {
			path = r.URL.EscapedPath()
		}
		p := attrPool.Get().(*[]slog.Attr)
		attrs := append((*p)[:0],
			slog.String("request_id", info.ID),
			slog.String("method", r.Method),
			slog.String("path", path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("proto", r.Proto),
			slog.String("remote", r.RemoteAddr),
		)
		if info.Service != "" {
			attrs = append(attrs, slog.String("service", info.Service), slog.String("op", info.Op))
		}
		if pr := info.Identity.Principal; pr != nil {
			attrs = append(attrs, slog.String("principal", pr.ARN()), slog.String("key_id", info.Identity.KeyID))
		}
		switch {
		case s.opts.AppendAccessAttrs != nil:
			attrs = s.opts.AppendAccessAttrs(info.ID, attrs)
		case s.opts.AccessAttrs != nil:
			attrs = append(attrs, s.opts.AccessAttrs(info.ID)...)
		}
		if e != nil {
			attrs = append(attrs, slog.String("err", info.Err.Error()), slog.String("kind", e.Kind.String()))
		}
		if s.opts.AccessLog != nil {
			s.writeAccessLine(level, attrs)
		} else {
			s.log.LogAttrs(ctx, level, "request", attrs...)
		}
		clear(attrs) // let go of the strings
		*p = attrs[:0]
		attrPool.Put(p)
	} else if s.opts.AppendAccessAttrs != nil || s.opts.AccessAttrs != nil {
		// Forget the request's usage all the same.
		if s.opts.AppendAccessAttrs != nil {
			p := attrPool.Get().(*[]slog.Attr)
			clear(s.opts.AppendAccessAttrs(info.ID, (*p)[:0]))
			attrPool.Put(p)
		} else {
			s.opts.AccessAttrs(info.ID)
		}
	}
	if s.opts.ObserveRequest != nil {
		s.opts.ObserveRequest(info.Service, info.Op, sw.status, d)
	}
}

// writeAccessLine formats an access-log line as Logger's JSON handler
// would and hands it to Options.AccessLog: buffered, but at ERROR written
// at once. A line with an attribute the formatter leaves to slog goes
// through Logger.
func (s *Server) writeAccessLine(level slog.Level, attrs []slog.Attr) {
	p := linePool.Get().(*[]byte)
	line, ok := appendJSONLine((*p)[:0], time.Now(), level, "request", attrs)
	switch {
	case !ok:
		s.log.LogAttrs(context.Background(), level, "request", attrs...)
	case level >= slog.LevelError:
		_, _ = s.opts.AccessLog.Write(line)
	default:
		s.opts.AccessLog.Buffer(line)
	}
	if cap(line) <= 16<<10 { // a rare huge line does not stay in the pool
		*p = line[:0]
		linePool.Put(p)
	}
}
