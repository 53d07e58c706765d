// Package web is the dashboard of watch mode: a live HTML page, a JSON API,
// Server-Sent Events, Prometheus metrics and health checks, served over
// HTTP with optional token access control. docs/API.md documents every
// endpoint.
//
// The page is rendered on the server with html/template, so it shows a
// correct snapshot without JavaScript; a small script (assets/app.js) then
// keeps it live from the event stream. Templates and assets are embedded.
//
// # Design notes
//
// Why one tracker subscription, and whole views? Each subscriber costs
// the tracker a copy and a channel send per event, under its lock. The
// server holds one subscription whatever the number of open pages; a
// goroutine (pump) feeds the metrics from it and, while pages are open,
// sends them a view: every panel's state, taken under the tracker's lock
// at one moment (tracker.View), at most every 500 ms while files change.
// Panels drawn from per-file events and separate snapshots disagreed under
// load (an empty queue beside a count of 1,934); one view cannot. A view
// is encoded once for every stream, and a stream keeps only the newest one
// it has not written, so a slow page skips ahead and costs one pointer.
// Per-file events with a queue per stream cost 16 times the bytes and, with
// 200 pages open, six times the memory (docs/BENCHMARKS.md).
//
// Why is the rest reloaded on every connection? The hour of throughput and
// the CSRF token are not in views; a page loads them from /api/dashboard
// on each "hello" (the first connection, and after the host restarted).
//
// Why check the Host header? A page on another site whose name is made to
// resolve to 127.0.0.1 (DNS rebinding) is same-origin with the dashboard
// in the browser's eyes, and could read it and post to it. On a loopback
// address, only loopback names are answered.
//
// Why both an origin check and a CSRF token? The origin check
// (http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host)
// stops cross-site posts from current browsers; the per-server token in
// the page covers clients that send neither header. Requests with an
// Authorization header need no token: browsers never add one by
// themselves.
//
// Why is the upload written to a dotfile and linked? The watcher skips
// dotfiles, so it never takes half an upload; link(2) fails rather than
// replace an existing name, so a clash picks another name even against a
// concurrent writer. The host does both (Backend.Deposit); this package
// sanitises the name and bounds the upload.
//
// Why bound connections and uploads? Slow clients once held thousands of
// descriptors until processing had none left and files failed. The
// listener admits a share of the descriptor limit (conns.go), an upload
// that stalls is cut off, and only a few are received at once.
package web
