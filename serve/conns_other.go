//go:build !linux

package serve

import "net"

// deferAccept is Linux's TCP_DEFER_ACCEPT (conns_linux.go); elsewhere
// idle connections are left to the cap.
func deferAccept(net.Listener, int) {}
