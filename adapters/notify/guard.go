package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"contenthub/domain"
	"contenthub/ports"
)

// ErrRefusedAddress is a connection the guard would not make.
var ErrRefusedAddress = errors.New("refused address")

// refusedPrefixes are the networks a message must never reach unless
// NOTIFY_ALLOW_PRIVATE is on: the host itself, private networks, link-local
// (cloud metadata at 169.254.169.254 and fd00:ec2::254 included), CGNAT and
// the special-purpose ranges.
var refusedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // CGNAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local (fd00:ec2::254 metadata)
		"fe80::/10",       // link-local
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// nat64 embeds an IPv4 address in its last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Refused reports whether ip is an address messages must not go to.
func Refused(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !ip.IsValid() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Guard checks endpoints' addresses: when created (CheckURL) and at every
// connection (Control, a net.Dialer hook that sees the address actually
// dialled, after resolution, so a name that resolves elsewhere the second
// time — DNS rebinding — is still refused).
type Guard struct {
	AllowPrivate bool // NOTIFY_ALLOW_PRIVATE: local runs and tests
	Resolver     *net.Resolver
}

var _ ports.AddressGuard = (*Guard)(nil)

// CheckURL validates rawURL and refuses it when its host is, or resolves to,
// a refused address. Problems are *domain.ValidationError on "url".
func (g *Guard) CheckURL(ctx context.Context, rawURL string) error {
	u, err := domain.ValidateEndpointURL(rawURL)
	if err != nil {
		return err
	}
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Refused(ip) {
			return &domain.ValidationError{Field: "url", Message: fmt.Sprintf("%s is a loopback, private, link-local or reserved address (NOTIFY_ALLOW_PRIVATE=true allows it)", ip)}
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return &domain.ValidationError{Field: "url", Message: fmt.Sprintf("host %q does not resolve", host)}
	}
	for _, ip := range addrs {
		if Refused(ip) {
			return &domain.ValidationError{Field: "url", Message: fmt.Sprintf("host %q resolves to %s, a loopback, private, link-local or reserved address (NOTIFY_ALLOW_PRIVATE=true allows it)", host, ip.Unmap())}
		}
	}
	return nil
}

// Control is a net.Dialer Control hook: it refuses the connection before it
// is made when the dialled address is refused.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRefusedAddress, address, err)
	}
	if Refused(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, private, link-local or reserved address", ErrRefusedAddress, ap.Addr().Unmap())
	}
	return nil
}
