package serve

import (
	"net"
	"syscall"
)

// deferAccept asks Linux to hand ln's connections to Accept only once
// their first bytes came in (TCP_DEFER_ACCEPT, for up to seconds; after
// that they are handed over anyway): connections that send nothing wait
// in the kernel, not in the queue before GitLab's, and take no slot of
// the cap. GitLab, a proxy and the kubelet send their request at once.
func deferAccept(ln net.Listener, seconds int) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	raw, err := tl.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, seconds)
	})
}
