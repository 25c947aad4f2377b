// Package egress decides which network addresses Tollgate may send a
// request to on a user's behalf: the webhook URLs of CloudWatch alarm
// actions and of Budgets and Cost Explorer SNS subscribers. Those URLs
// are written by API callers, so by default Tollgate refuses the
// addresses that reach the machine it runs on or the network behind it
// (server-side request forgery):
//
//	loopback            127.0.0.0/8, ::1
//	link-local          169.254.0.0/16 (cloud metadata), fe80::/10
//	private             10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7
//	shared (CGNAT)      100.64.0.0/10
//	unspecified, "this network", reserved, broadcast
//	                    0.0.0.0/8, ::, 240.0.0.0/4
//	multicast           224.0.0.0/4, ff00::/8
//
// and the same addresses written as IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) IPv6.
//
// A URL is checked twice. CheckURL, at creation, refuses an address
// written as an IP literal (in any notation a resolver may accept, such
// as 2130706433 or 0x7f.1) and the names localhost and *.localhost. At
// delivery, DialContext checks the address actually dialled, after DNS
// resolution (a net.Dialer Control func), so a name that resolves to a
// refused address — at creation or only later, by DNS rebinding — is
// refused too.
//
// A Policy's allow-list lets an operator reach an internal receiver:
// CIDR prefixes (or single addresses) whose addresses are allowed, and
// host names (optionally with a port) that are trusted whatever they
// resolve to. The package is standard library only; the HTTP client
// built on DialContext lives with the webhook deliverer.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// refused are the prefixes no outbound request may reach unless allowed.
var refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", incl. 0.0.0.0
	netip.MustParsePrefix("10.0.0.0/8"),     // private
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),  // private
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // private
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	compatible = netip.MustParsePrefix("::/96")
)

// embedded returns the IPv4 address an IPv6 address carries (mapped,
// compatible or NAT64), or ip itself.
func embedded(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return ip.Unmap()
	}
	if ip.Is6() && (nat64.Contains(ip) || compatible.Contains(ip)) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback() {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return ip
}

// Refused reports whether ip is in a range outbound requests may not reach
// by default (the package comment lists them). An invalid address is
// refused.
func Refused(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("")
	for _, a := range []netip.Addr{ip, embedded(ip)} {
		for _, p := range refused {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// Policy is the outbound address rule with an operator's allow-list. The
// nil *Policy is the default: nothing refused is allowed. A Policy is
// immutable and safe for concurrent use.
type Policy struct {
	prefixes []netip.Prefix
	names    map[string]bool // "host" or "host:port", lower case
	// lookup resolves names when set (tests); nil dials through the
	// system resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// New returns the policy allowing entries, each a CIDR prefix
// ("10.1.2.0/24"), a single address ("10.1.2.3", "fd00::1"), a host name
// ("hooks.internal") or a host name and port ("hooks.internal:8443").
// Errors name the first malformed entry.
func New(entries []string) (*Policy, error) {
	p := &Policy{names: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, errors.New("an empty entry")
		}
		if pf, err := netip.ParsePrefix(e); err == nil {
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(ip.WithZone(""), ip.BitLen()))
			continue
		}
		host, port := e, ""
		if h, pt, err := net.SplitHostPort(e); err == nil {
			host, port = h, pt
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%q: the port must be 1-65535", e)
			}
		}
		if !validName(host) {
			return nil, fmt.Errorf("%q is neither a CIDR prefix, an IP address nor a host name[:port]", e)
		}
		if _, ok := literal(host); ok {
			return nil, fmt.Errorf("%q: write an address as a CIDR prefix or in its usual notation", e)
		}
		key := strings.ToLower(strings.TrimSuffix(host, "."))
		if port != "" {
			key += ":" + port
		}
		p.names[key] = true
	}
	return p, nil
}

// WithLookup returns a copy of p that resolves host names with lookup
// instead of the system resolver; the dialled address is checked all the
// same. For tests.
func (p *Policy) WithLookup(lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *Policy {
	c := &Policy{lookup: lookup}
	if p != nil {
		c.prefixes, c.names = p.prefixes, p.names
	}
	return c
}

// AllowedAddr reports whether a request may reach ip: it is not refused,
// or the allow-list holds it.
func (p *Policy) AllowedAddr(ip netip.Addr) bool {
	if !Refused(ip) {
		return true
	}
	if p == nil {
		return false
	}
	ip = ip.WithZone("")
	for _, pf := range p.prefixes {
		if pf.Contains(ip) || pf.Contains(embedded(ip)) {
			return true
		}
	}
	return false
}

// trustedName reports whether the allow-list names host (on port, or on
// any port).
func (p *Policy) trustedName(host, port string) bool {
	if p == nil || len(p.names) == 0 {
		return false
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return p.names[h] || p.names[h+":"+port]
}

// CheckURL checks a webhook URL when it is written (an alarm action, an
// SNS subscriber): errkind.Invalid, naming the URL, when its host is a
// refused address written as an IP literal, or localhost. Host names are
// checked at delivery, after resolution (DialContext). It does not check
// the scheme; callers do.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errkind.New(errkind.Invalid, "The webhook URL %q is not a valid URL.", clip(raw))
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if strings.HasSuffix(u.Scheme, "https") {
			port = "443"
		}
	}
	if p.trustedName(host, port) {
		return nil
	}
	if ip, ok := literal(host); ok {
		if !p.AllowedAddr(ip) {
			return refusedURL(raw)
		}
		return nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return refusedURL(raw)
	}
	if !validName(host) {
		return errkind.New(errkind.Invalid, "The webhook URL %q does not name a valid host.", clip(raw))
	}
	return nil
}

func refusedURL(raw string) error {
	return errkind.New(errkind.Invalid, "The webhook URL %q points to a loopback, link-local, private or otherwise internal address, which Tollgate does not send requests to; an operator can allow it with the outboundAllow setting.", clip(raw))
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// literal parses host as an IP address in any notation a resolver may
// accept: the usual ones, an IPv6 zone, and the inet_aton forms (a 32-bit
// number "2130706433", octal or hex parts "0x7f.1", fewer than four
// parts "127.1").
func literal(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		return ip, true
	}
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, s := range parts {
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	// inet_aton: a.b.c.d, a.b.c (c 16 bits), a.b (b 24 bits), a (32 bits).
	var n uint64
	last := len(vals) - 1
	for i, v := range vals[:last] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	if vals[last] >= 1<<(32-8*uint(last)) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// validName reports whether s is a plausible DNS host name.
func validName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ErrRefused is the error DialContext returns for an address the policy
// refuses.
var ErrRefused = errors.New("egress: address refused by the outbound policy")

// control is the net.Dialer Control func: it checks the address about to
// be connected, after resolution.
func (p *Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address", ErrRefused, address)
	}
	if !p.AllowedAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrRefused, ap.Addr())
	}
	return nil
}

// DialContext connects like net.Dialer.DialContext, for an
// http.Transport, but refuses an address the policy refuses: the check
// runs on each address actually dialled, after resolution. A host name
// on the allow-list is dialled without the check.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if !p.trustedName(host, port) {
		d.Control = p.control
	}
	if p == nil || p.lookup == nil {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := p.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("egress: no address for %s", host)
	}
	return nil, first
}
