package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"::1", true},
		{"169.254.169.254", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"10.0.0.1", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:10.1.2.3", true},
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"::7f00:1", true},           // IPv4-compatible 127.0.0.1
		{"93.184.216.34", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2606:2800:220:1::1", false},
		{"::ffff:93.184.216.34", false},
		{"8.8.8.8", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := Refused(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("Refused(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	p, err := New([]string{"10.1.2.0/24", "fd00::7", "hooks.internal:8443", "Alerts.Corp."})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.9": true, "::ffff:10.1.2.9": true, "10.1.3.1": false, "fd00::7": true, "fd00::8": false, "127.0.0.1": false,
	} {
		if got := p.AllowedAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("AllowedAddr(%s) = %v, want %v", addr, got, want)
		}
	}
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"hooks.internal", "8443", true},
		{"hooks.internal", "443", false},
		{"alerts.corp", "80", true},
		{"ALERTS.corp.", "9000", true},
		{"other.corp", "80", false},
	} {
		if got := p.trustedName(tc.host, tc.port); got != tc.want {
			t.Errorf("trustedName(%s, %s) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "host:0", "host:99999", "bad host", "http://x", "0x7f.1"} {
		if _, err := New([]string{bad}); err == nil {
			t.Errorf("New(%q) accepted a bad entry", bad)
		}
	}
}

func TestCheckURL(t *testing.T) {
	allow, err := New([]string{"10.1.2.0/24", "hooks.internal:8443", "localhost:9000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url    string
		policy *Policy
		ok     bool
	}{
		{"https://hooks.example.com/x", nil, true},
		{"http://93.184.216.34:8080/x", nil, true},
		{"http://[2606:2800:220:1::1]/x", nil, true},
		{"http://127.0.0.1/x", nil, false},
		{"http://127.0.0.1:8080/x", nil, false},
		{"http://[::1]/x", nil, false},
		{"http://[::ffff:127.0.0.1]/x", nil, false},
		{"http://[::ffff:a9fe:a9fe]/latest/meta-data/", nil, false},
		{"http://169.254.169.254/latest/meta-data/", nil, false},
		{"http://[fe80::1%25eth0]/x", nil, false},
		{"http://10.0.0.5/x", nil, false},
		{"http://172.20.1.1/x", nil, false},
		{"http://192.168.0.1/x", nil, false},
		{"http://[fd00::1]/x", nil, false},
		{"http://0.0.0.0/x", nil, false},
		{"http://[::]/x", nil, false},
		{"http://100.64.1.1/x", nil, false},
		{"http://224.0.0.1/x", nil, false},
		{"http://2130706433/x", nil, false},
		{"http://0x7f.1/x", nil, false},
		{"http://0177.0.0.1/x", nil, false},
		{"http://127.1/x", nil, false},
		{"http://localhost/x", nil, false},
		{"http://LOCALHOST./x", nil, false},
		{"http://api.localhost:8080/x", nil, false},
		{"slack+http://127.0.0.1/x", nil, false},
		{"http://10.1.2.3/x", allow, true},
		{"http://10.1.3.3/x", allow, false},
		{"https://hooks.internal:8443/x", allow, true},
		{"http://localhost:9000/x", allow, true},
		{"http://localhost:9001/x", allow, false},
		{"http:///x", nil, false},
		{"http://bad host/x", nil, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := tc.policy.CheckURL(tc.url)
			if tc.ok && err != nil {
				t.Errorf("CheckURL refused an allowed URL: %v", err)
			}
			if !tc.ok && !errkind.Is(err, errkind.Invalid) {
				t.Errorf("CheckURL = %v, want an Invalid error", err)
			}
		})
	}
}

// TestDialChecksResolvedAddress proves the delivery-time check: a name
// allowed at creation that resolves to a refused address is not dialled,
// even when the resolver answered differently before (rebinding).
func TestDialChecksResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	answers := map[string][]netip.Addr{
		"rebind.example.com": {netip.MustParseAddr("127.0.0.1")},
		"mapped.example.com": {netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) { return answers[host], nil }
	for _, host := range []string{"rebind.example.com", "mapped.example.com"} {
		t.Run(host, func(t *testing.T) {
			p := (*Policy)(nil).WithLookup(lookup)
			if err := p.CheckURL("http://" + host + ":" + port + "/x"); err != nil {
				t.Fatalf("CheckURL refused a name: %v", err)
			}
			_, err := p.DialContext(t.Context(), "tcp", net.JoinHostPort(host, port))
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("DialContext = %v, want ErrRefused", err)
			}
		})
	}
	t.Run("system resolver", func(t *testing.T) {
		// localhost resolves to loopback through the system resolver.
		var p *Policy
		if _, err := p.DialContext(t.Context(), "tcp", ln.Addr().String()); !errors.Is(err, ErrRefused) {
			t.Fatalf("DialContext(%s) = %v, want ErrRefused", ln.Addr(), err)
		}
		if _, err := p.DialContext(t.Context(), "tcp", "localhost:"+port); !errors.Is(err, ErrRefused) {
			t.Fatalf("DialContext(localhost) = %v, want ErrRefused", err)
		}
	})
	select {
	case <-accepted:
		t.Fatal("a refused address was connected to")
	default:
	}
	t.Run("allowed", func(t *testing.T) {
		for _, entries := range [][]string{{"127.0.0.0/8"}, {"rebind.example.com:" + port}, {"rebind.example.com"}} {
			p, err := New(entries)
			if err != nil {
				t.Fatal(err)
			}
			p = p.WithLookup(lookup)
			addr := net.JoinHostPort("rebind.example.com", port)
			c, err := p.DialContext(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatalf("allow-list %q: %v", entries, err)
			}
			c.Close()
			<-accepted
		}
	})
}
