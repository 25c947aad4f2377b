package server

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// LineWriter takes the access log's lines when the server formats them
// itself (Options.AccessLog); logbuf.Writer is one. Both methods take
// whole lines and must be safe for concurrent use.
type LineWriter interface {
	// Write writes line now, after any lines waiting before it.
	Write(line []byte) (int, error)
	// Buffer keeps a copy of line for a later write.
	Buffer(line []byte)
}

// linePool holds the buffers access-log lines are formatted in.
var linePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// appendJSONLine appends the line log/slog's JSONHandler (with neither
// ReplaceAttr nor AddSource, and no attributes or groups of its own)
// writes for a record of t, level, msg and attrs, byte for byte. It
// reports false, leaving the line to slog, when an attribute is of a
// kind it does not format (any, group, time, log valuer) or a float is
// not finite (slog writes an error there).
func appendJSONLine(b []byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	b = append(b, `{"time":"`...)
	b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendJSONString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, msg)
	for _, a := range attrs {
		b = append(b, ',')
		b = appendJSONString(b, a.Key)
		b = append(b, ':')
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = appendJSONString(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		case slog.KindFloat64:
			var ok bool
			if b, ok = appendJSONFloat(b, v.Float64()); !ok {
				return b, false
			}
		default:
			return b, false
		}
	}
	return append(b, '}', '\n'), true
}

// appendJSONFloat appends f as encoding/json marshals a float64 (which
// slog's JSONHandler calls), and reports false for NaN and infinities,
// which it refuses.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString appends s quoted as slog's JSONHandler quotes it:
// encoding/json's escaping without its HTML escapes (log/slog's
// appendEscapedJSONString, copied).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// bytes < 0x20 but \t, \n and \r
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, escaped
		// for JSONP's sake.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe holds true for the bytes a JSON string carries as they are:
// ASCII but the control characters, '"' and '\\'. Bytes from 0x80 on
// start a UTF-8 sequence, checked apart.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
