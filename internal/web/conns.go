package web

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// The dashboard must never take the file descriptors that processing
// needs: thousands of slow clients once took the host to its limit, and
// files then failed for want of one. So connections are bounded: past
// the bound, new ones wait in the kernel's accept queue, which costs the
// process no descriptor, until one closes.

// fdReserve is how many descriptors the dashboard leaves to the rest of
// the host (watchers, claimed inputs, results, temp files, plugins, the
// in-flight files of every worker): this many, or half the limit when
// that is less.
const fdReserve = 1024

// maxConnsCap bounds connections however high the limit: each costs a
// goroutine and buffers, and an open page holds one.
const maxConnsCap = 4096

// minConns keeps the dashboard usable on a tiny limit.
const minConns = 16

// connLimit is the default bound on open connections: what the file
// descriptor limit leaves after the reserve, halved for the files each
// upload also opens.
func connLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return maxConnsCap
	}
	// No limit (RLIM_INFINITY) is the largest value of Cur's type, whose
	// signedness differs between systems: connsFor caps it.
	return connsFor(uint64(rl.Cur))
}

func connsFor(nofile uint64) int {
	limit := int64(min(nofile, 1<<30))
	spare := (limit - min(fdReserve, limit/2)) / 2
	return int(max(min(spare, maxConnsCap), minConns))
}

// limitListener accepts at most n connections at once.
func limitListener(l net.Listener, n int) net.Listener {
	return &limitedListener{Listener: l, sem: make(chan struct{}, n), closed: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem    chan struct{} // a token per open connection, and one for the Accept waiting
	closed chan struct{}
	once   sync.Once
	open   atomic.Int64 // connections open now
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select { // Wait for room before taking a descriptor.
	case l.sem <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.open.Add(1)
	return &limitedConn{Conn: c, release: func() { l.open.Add(-1); <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (l *limitedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
