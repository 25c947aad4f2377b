// Package mail delivers notify messages as e-mail through an SMTP server
// (net/smtp): STARTTLS when the server offers it, PLAIN authentication when
// a username is configured. The message's idempotency key travels in the
// X-Tollgate-Idempotency-Key header and, hashed, in its Message-ID, so a
// repeated delivery is recognisable. A 5xx SMTP reply rejects the message
// for good; anything else is retried by the outbox.
package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Deliverer sends messages through one SMTP server. Safe for concurrent
// use.
type Deliverer struct {
	// Addr is the server's host:port.
	Addr string
	// From is the envelope and header sender.
	From string
	// Username and Password enable PLAIN authentication (which net/smtp
	// allows only over TLS or to localhost).
	Username, Password string
	// TLS configures STARTTLS; nil verifies the server's name.
	TLS *tls.Config
	// Now dates messages. Default time.Now.
	Now func() time.Time
}

var _ notify.Deliverer = (*Deliverer)(nil)

// Format returns the RFC 5322 message for m sent to rcpt.
func (d *Deliverer) Format(m notify.Message, rcpt string) []byte {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	sum := sha256.Sum256([]byte(m.Key))
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", d.From)
	h("To", rcpt)
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now().Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@tollgate>")
	h("X-Tollgate-Idempotency-Key", strings.NewReplacer("\r", "", "\n", "").Replace(m.Key))
	h("X-Tollgate-Kind", m.Kind)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n")))
	_ = qp.Close()
	return []byte(b.String())
}

// Deliver implements notify.Deliverer.
func (d *Deliverer) Deliver(ctx context.Context, m notify.Message) error {
	_, rcpt, ok := notify.SplitTarget(m.Target)
	if !ok || strings.ContainsAny(rcpt, "\r\n<>") {
		return notify.Permanent(fmt.Errorf("mail: bad recipient in target %q", m.Target))
	}
	host, _, err := net.SplitHostPort(d.Addr)
	if err != nil {
		return notify.Permanent(fmt.Errorf("mail: bad server address %q: %w", d.Addr, err))
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := d.send(c, host, rcpt, d.Format(m, rcpt)); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			return notify.Permanent(err)
		}
		return err
	}
	return nil
}

func (d *Deliverer) send(c *smtp.Client, host, rcpt string, msg []byte) error {
	if err := c.Hello("tollgate"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := d.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return err
		}
	}
	if d.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", d.Username, d.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(d.From); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
