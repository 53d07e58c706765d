//! trim: the Rust twin of plugins/trim without its setting. It removes
//! leading and trailing Unicode whitespace from every line and keeps the
//! line terminators. Dependency-free, built with Debian's rustc and
//! libstd-rust-dev-wasm32 (see the Makefile and docs/PLUGINS.md):
//!
//!     rustc --edition 2021 --crate-type cdylib --target wasm32-wasi -O -o trim.wasm lib.rs

use std::ptr::addr_of_mut;

#[link(wasm_import_module = "host")]
extern "C" {
    #[link_name = "emit"]
    fn host_emit(ptr: *const u8, len: u32);
    #[link_name = "fail"]
    fn host_fail(ptr: *const u8, len: u32);
}

// The buffer the host writes into, and the output batch. A plugin instance
// runs one call at a time, so plain statics are safe.
static mut BUF: Vec<u8> = Vec::new();
static mut OUT: Vec<u8> = Vec::new();

fn statics() -> (&'static mut Vec<u8>, &'static mut Vec<u8>) {
    unsafe { (&mut *addr_of_mut!(BUF), &mut *addr_of_mut!(OUT)) }
}

fn fail(msg: &str) -> i32 {
    unsafe { host_fail(msg.as_ptr(), msg.len() as u32) };
    1
}

// The metadata document (docs/ABI.md, "Metadata"), NUL-terminated.
static META: &[u8] = b"{\"name\":\"trim\",\"version\":\"1.0.0\",\"description\":\"Removes leading and trailing Unicode whitespace from every line (Rust build, no settings).\"}\0";

#[no_mangle]
pub extern "C" fn plugin_meta() -> *const u8 {
    META.as_ptr()
}

#[no_mangle]
pub extern "C" fn plugin_abi_version() -> i32 {
    1
}

#[no_mangle]
pub extern "C" fn plugin_buffer(size: u32) -> *mut u8 {
    let (buf, _) = statics();
    let want = (size as usize).max(1);
    if buf.len() < want {
        *buf = vec![0; want]; // the old contents are not needed
    }
    buf.as_mut_ptr()
}

#[no_mangle]
pub extern "C" fn plugin_configure(len: u32) -> i32 {
    let (buf, _) = statics();
    let settings = &buf[..len as usize];
    if settings != b"{}" && !settings.is_empty() {
        return fail("the Rust trim takes no settings (the Go and C builds take \"chars\")");
    }
    0
}

#[no_mangle]
pub extern "C" fn plugin_begin(_len: u32) -> i32 {
    0
}

#[no_mangle]
pub extern "C" fn plugin_chunk(len: u32) -> i32 {
    let (buf, out) = statics();
    out.clear();
    for line in buf[..len as usize].split_inclusive(|&c| c == b'\n') {
        let (body, term) = split_terminator(line);
        out.extend_from_slice(trim(body));
        out.extend_from_slice(term);
    }
    unsafe { host_emit(out.as_ptr(), out.len() as u32) };
    0
}

#[no_mangle]
pub extern "C" fn plugin_end() -> i32 {
    0
}

fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    let n = line.len();
    if line.ends_with(b"\r\n") {
        line.split_at(n - 2)
    } else if line.ends_with(b"\n") {
        line.split_at(n - 1)
    } else {
        (line, &[])
    }
}

// trim is Go's bytes.TrimSpace: runes are decoded as Go's unicode/utf8
// does, an invalid byte reading as U+FFFD, which is not whitespace.
fn trim(mut s: &[u8]) -> &[u8] {
    while !s.is_empty() {
        let (r, n) = decode(s);
        if !is_space(r) {
            break;
        }
        s = &s[n..];
    }
    while !s.is_empty() {
        let (r, n) = decode_last(s);
        if !is_space(r) {
            break;
        }
        s = &s[..s.len() - n];
    }
    s
}

// is_space is Go's unicode.IsSpace, which is char::is_whitespace.
fn is_space(r: u32) -> bool {
    char::from_u32(r).map_or(false, char::is_whitespace)
}

const RUNE_ERROR: u32 = 0xFFFD;

fn decode(p: &[u8]) -> (u32, usize) {
    let c = p[0];
    if c < 0x80 {
        return (c as u32, 1);
    }
    let (need, mut r, lo, hi) = match c {
        0xC2..=0xDF => (2, (c & 0x1F) as u32, 0x80, 0xBF),
        0xE0 => (3, 0, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, (c & 0x0F) as u32, 0x80, 0xBF),
        0xED => (3, 0x0D, 0x80, 0x9F),
        0xF0 => (4, 0, 0x90, 0xBF),
        0xF1..=0xF3 => (4, (c & 0x07) as u32, 0x80, 0xBF),
        0xF4 => (4, 4, 0x80, 0x8F),
        _ => return (RUNE_ERROR, 1),
    };
    if p.len() < need || p[1] < lo || p[1] > hi {
        return (RUNE_ERROR, 1);
    }
    for &b in &p[1..need] {
        if b & 0xC0 != 0x80 {
            return (RUNE_ERROR, 1);
        }
        r = r << 6 | (b & 0x3F) as u32;
    }
    (r, need)
}

fn decode_last(p: &[u8]) -> (u32, usize) {
    let n = p.len();
    if p[n - 1] < 0x80 {
        return (p[n - 1] as u32, 1);
    }
    let lim = n.saturating_sub(4);
    let mut start = n - 1;
    while start > lim && p[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    let (r, size) = decode(&p[start..]);
    if start + size != n {
        return (RUNE_ERROR, 1);
    }
    (r, size)
}
