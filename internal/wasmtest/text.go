package wasmtest

import (
	"bytes"
	"fmt"
)

// LogText returns size bytes of log-like lines with work for each example
// plugin of the benchmarked chain: whitespace to trim, lower-case letters,
// and e-mail, IPv4, IPv6 addresses and card numbers to redact.
func LogText(size int) []byte {
	templates := []string{
		"  2026-11-29T10:%02d:00Z info user bob.smith@example.org logged in from 10.0.%d.7  ",
		"\t2026-11-29T10:%02d:01Z warn payment with card 4111 1111 1111 1111 declined for order %d",
		"2026-11-29T10:%02d:02Z info get /api/v1/items status 200 in %dms from 2001:db8::1f ",
		"2026-11-29T10:%02d:03Z debug cache hit ratio 0.97 over %d keys, nothing to mask here",
	}
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		fmt.Fprintf(&buf, templates[i%len(templates)], i%60, i%1000)
		buf.WriteByte('\n')
	}
	return buf.Bytes()[:size]
}
