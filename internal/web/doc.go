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
// Why one tracker subscription, and batches? Each subscriber costs the
// tracker a copy and a channel send per event, under its lock. The server
// holds one subscription whatever the number of open pages; a goroutine
// (pump) feeds the metrics from it and, while pages are open, gathers the
// latest record of each changed file for 250ms, encodes the batch once and
// hands the same bytes to every stream. A busy host thus sends each page a
// few messages a second instead of one per event, and a page that cannot
// keep up is dropped (EventSource reconnects and reloads a snapshot)
// rather than slowing the host.
//
// Why is the snapshot reloaded on every connection? Events are not kept,
// so a page cannot ask for those it missed while disconnected (or while
// the host restarted). The stream's first event comes after the server
// subscribed; the page then loads /api/dashboard and replays the events
// that arrived meanwhile. Records are whole, so replaying one is harmless.
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
// concurrent writer.
package web
