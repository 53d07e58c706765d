//go:build !wasip1

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

// Each case is one line, redacted with the default settings.
func TestRedactLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing", "all quiet here", "all quiet here"},
		{"empty", "", ""},

		{"email", "from bob.smith+tag@mail.example.org today", "from [EMAIL] today"},
		{"email in brackets", "To: <ann@example.com>, x@y.io.", "To: <[EMAIL]>, [EMAIL]."},
		{"email after key", "user=ann_o@ex-ample.co.uk;", "user=[EMAIL];"},
		{"email upper case", "BOB@EXAMPLE.COM", "[EMAIL]"},
		{"emails in a list", "a@b.cc,c.d@e-f.gh;x@y.zz", "[EMAIL],[EMAIL];[EMAIL]"},
		{"email in a url", "mailto:ann@example.com?subject=hi", "mailto:[EMAIL]?subject=hi"},
		{"not email: no domain dot", "root@localhost and @handle and a@b", "root@localhost and @handle and a@b"},
		{"not email: version tag", "pkg@1.2.3", "pkg@1.2.3"},

		{"ipv4", "client 192.168.0.1 connected", "client [IPV4] connected"},
		{"ipv4 with port and cidr", "10.0.0.7:8080 8.8.8.8/32", "[IPV4]:8080 [IPV4]/32"},
		{"ipv4 in a log line", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200`, `[IPV4] - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200`},
		{"ipv4 zero-padded", "010.001.000.001", "[IPV4]"},
		{"ipv4 after key", "ip=127.0.0.1,peer=(10.1.2.3)", "ip=[IPV4],peer=([IPV4])"},
		{"ipv4 at sentence end", "Blocked 203.0.113.9.", "Blocked [IPV4]."},
		{"ipv4 range", "10.0.0.1-10.0.0.9", "[IPV4]-[IPV4]"},
		{"ipv4 edges", "0.0.0.0 255.255.255.255", "[IPV4] [IPV4]"},
		{"ipv4 next to unicode punctuation", "地址：10.0.0.1。", "地址：[IPV4]。"},
		{"not ipv4: version", "version 1.2.3 and v1.2.3.4 and go1.22.3.4", "version 1.2.3 and v1.2.3.4 and go1.22.3.4"},
		{"not ipv4: five parts", "oid 1.3.6.1.4.1 and 1.2.3.4.5", "oid 1.3.6.1.4.1 and 1.2.3.4.5"},
		{"not ipv4: out of range", "256.1.1.1 1.1.1.999 1234.1.1.1", "256.1.1.1 1.1.1.999 1234.1.1.1"},
		{"not ipv4: decimals", "3.14.15.92.6", "3.14.15.92.6"},

		{"ipv6", "from 2001:db8::1 ok", "from [IPV6] ok"},
		{"ipv6 full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IPV6]"},
		{"ipv6 loopback and link-local", "::1 fe80::1ff:fe23:4567:890a", "[IPV6] [IPV6]"},
		{"ipv6 zone", "via fe80::1%eth0 up", "via [IPV6] up"},
		{"ipv6 bracketed with port", "[2001:db8::42]:443", "[[IPV6]]:443"},
		{"ipv6 after key colon", "ip:2001:db8::1", "ip:[IPV6]"},
		{"ipv6 before colon", "2001:db8::1: refused", "[IPV6]: refused"},
		{"ipv6 mapped ipv4", "::ffff:192.0.2.128", "[IPV6]"},
		{"ipv6 upper case", "2001:DB8::A", "[IPV6]"},
		{"ipv6 full with ipv4 tail", "0:0:0:0:0:ffff:192.168.1.1", "[IPV6]"},
		{"ipv6 at sentence end", "Ping 2001:db8::1.", "Ping [IPV6]."},
		{"ipv6 in url", "http://[::1]:8080/", "http://[[IPV6]]:8080/"},
		{"not ipv6: times", "at 12:30 and 12:30:45 and 2024-05-01T10:20:30Z", "at 12:30 and 12:30:45 and 2024-05-01T10:20:30Z"},
		{"not ipv6: mac", "mac 00:1a:2b:3c:4d:5e 00:11:22:33:44:55:66:77", "mac 00:1a:2b:3c:4d:5e 00:11:22:33:44:55:66:77"},
		{"not ipv6: fingerprint", "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48", "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"},
		{"ipv6 after a tag", "x@[IPv6:2001:db8::1]", "x@[IPv6:[IPV6]]"},
		{"not ipv6: code paths", "std::vector Vec::new a::b :: dead::beef", "std::vector Vec::new a::b :: dead::beef"},
		{"not ipv6: ratio", "ratio 1:2:3", "ratio 1:2:3"},
		{"not ipv6: glued to word", "x2001:db8::1y", "x2001:db8::1y"},

		{"card", "card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"},
		{"card dashes", "4111-1111-1111-1111", "[CARD]"},
		{"card plain", "cc=5555555555554444;", "cc=[CARD];"},
		{"card amex", "3782 822463 10005", "[CARD]"},
		{"card amex dashes", "3714-496353-98431,", "[CARD],"},
		{"card 19 digits", "6212345678901234569", "[CARD]"},
		{"card followed by year", "4111 1111 1111 1111 2024", "[CARD] 2024"},
		{"card after number", "qty 3 4111 1111 1111 1111", "qty 3 [CARD]"},
		{"card at sentence end", "Paid with 6011111111111117.", "Paid with [CARD]."},
		{"two cards", "4242424242424242,4000056655665556", "[CARD],[CARD]"},
		{"not card: fails luhn", "order 4111111111111112", "order 4111111111111112"},
		{"not card: starts with 1", "ts=1715000000002 id=1234567812345670", "ts=1715000000002 id=1234567812345670"},
		{"not card: too short", "411111111111", "411111111111"},
		{"not card: too long", "41111111111111111111", "41111111111111111111"},
		{"not card: glued to letters", "tx4111111111111111 4111111111111111x", "tx4111111111111111 4111111111111111x"},
		{"not card: decimal", "4111111111111111.5", "4111111111111111.5"},
		{"not card: mixed separators", "4111 1111-1111 1111", "4111 1111-1111 1111"},
		{"not card: small groups", "2024-01-02 00 00 00 00 05", "2024-01-02 00 00 00 00 05"},
		{"not card: uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},

		{"mixed", "bob@example.com from 10.0.0.1 / 2001:db8::2 paid 4111 1111 1111 1111",
			"[EMAIL] from [IPV4] / [IPV6] paid [CARD]"},
		{"digits in email not a card", "4111111111111111@example.com", "[EMAIL]"},
		{"invalid utf-8 kept", "\xff 10.0.0.1 \xfe", "\xff [IPV4] \xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdktest.Output(t, "in.log", "", tt.in+"\n"); got != tt.want+"\n" {
				t.Errorf("got %q, want %q", got, tt.want+"\n")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	sdktest.Cases(t, "in.log", []sdktest.Case{
		{"empty", "", "", ""},
		{"no trailing newline", "", "a 10.0.0.1\nb 10.0.0.2", "a [IPV4]\nb [IPV4]"},
		{"crlf", "", "10.0.0.1\r\nx\r\n", "[IPV4]\r\nx\r\n"},
		{"mask", `{"mask": "***"}`, "a@b.cc 10.0.0.1 ::1 4111111111111111\n", "*** *** *** ***\n"},
		{"empty mask deletes", `{"mask": ""}`, "ip=10.0.0.1;\n", "ip=;\n"},
		{"kinds", `{"kinds": ["email", "card"]}`, "a@b.cc 10.0.0.1 ::1 4111111111111111\n", "[EMAIL] 10.0.0.1 ::1 [CARD]\n"},
		{"kinds ipv6 only", `{"kinds": ["ipv6"]}`, "10.0.0.1 ::1\n", "10.0.0.1 [IPV6]\n"},
		{"mapped ipv4 without ipv6", `{"kinds": ["ipv4"]}`, "::ffff:10.0.0.1\n", "::ffff:[IPV4]\n"},
		{"patterns", `{"patterns": ["(?i)api[_-]?key=\\S+", "SSN \\d{3}-\\d{2}-\\d{4}"]}`,
			"API_KEY=abc123 ok SSN 123-45-6789\n", "[REDACTED] ok [REDACTED]\n"},
		{"patterns only", `{"kinds": [], "patterns": ["secret"]}`, "secret 10.0.0.1\n", "[REDACTED] 10.0.0.1\n"},
		{"patterns with mask", `{"mask": "#", "patterns": ["x+"]}`, "axxb 10.0.0.1\n", "a#b #\n"},
		{"pattern matching empty", `{"kinds": [], "patterns": ["z*"]}`, "azzb\n", "a[REDACTED]b\n"},
		{"pattern anchored", `{"kinds": [], "patterns": ["^a"]}`, "aaa\n", "[REDACTED]aa\n"},
		{"overlap: longest first match wins", `{"kinds": ["ipv4"], "patterns": ["0\\.0\\.1 x"]}`, "10.0.0.1 x\n", "[IPV4] x\n"},
		{"overlap: earlier start wins", `{"kinds": ["ipv4"], "patterns": ["host 10"]}`, "host 10.0.0.1\n", "[REDACTED].0.0.1\n"},
	})
}

func TestRedactBadConfig(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"kinds": ["email", "phone"]}`, `config key "kinds": unknown kind "phone"`},
		{`{"kinds": []}`, `config key "kinds" is empty`},
		{`{"kinds": "email"}`, "kinds"},
		{`{"patterns": ["ok", "a(b"]}`, `config key "patterns": pattern 2 ("a(b"): error parsing regexp`},
		{`{"patterns": [1]}`, "patterns"},
		{`{"mask": 0}`, "mask"},
		{`{"masks": "x"}`, `"masks"`},
	})
}

func BenchmarkRedact(b *testing.B) {
	line := "2024-05-01T10:20:30Z INFO request from 203.0.113.9 user=ann@example.com id=1715000000002 path=/api/v1.2/items took 12.5ms\n"
	in := strings.Repeat(line, 10_000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := sdk.Run(strings.NewReader(in), new(strings.Builder), "in.log", ""); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRedactPathological(t *testing.T) {
	for _, unit := range []string{"1.", "1:", "a:", "1 ", "4111 ", "a@", "@a.", "1-", ":1.1.1.1"} {
		line := strings.Repeat(unit, 200_000)
		start := time.Now()
		sdktest.Output(t, "in.log", "", line+"\n")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("line of %q: took %v", unit, d)
		}
	}
}
