package ginadapter

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// requestKey builds the key of a request: the method class (GET and HEAD
// share one), the host, the path, the query sorted by name then value,
// the codings the client accepts, the declared Vary headers, the user
// (with WithUser). Each field is written with its length, so that no
// value can pass for another field. Purges need nothing in the key: the
// response carries its route's and path prefixes' tags (see purge.go).
func requestKey(r *http.Request, vary []string, user string) string {
	var b strings.Builder
	b.Grow(64 + len(r.URL.Path) + len(r.URL.RawQuery))
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field("GET")
	field(r.Host)
	field(r.URL.Path)
	field(sortedQuery(r.URL.RawQuery))
	field(strings.Join(acceptedCodings(r.Header), ","))
	for _, h := range vary {
		field(h)
		field(strings.Join(r.Header.Values(h), "\x00"))
	}
	field(user)
	return b.String()
}

// sortedQuery is the query normalized: parameters sorted by name, the
// values of each sorted too, so that ?a=1&b=2 and
// ?b=2&a=1 share a key. A query that does not parse is kept as it is.
func sortedQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "\x00" + raw
	}
	for _, v := range q {
		slices.Sort(v)
	}
	return q.Encode() // Encode sorts by name
}

// acceptedCodings returns the content codings an Accept-Encoding header
// accepts (q > 0), lowercased and sorted; identity is implied.
func acceptedCodings(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(line, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || name == "identity" || qZero(params) {
				continue
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func qZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q <= 0
		}
	}
	return false
}

// accepts reports whether a client that sent h may be given a body with
// the Content-Encoding enc.
func accepts(h http.Header, enc string) bool {
	enc = strings.ToLower(strings.TrimSpace(enc))
	if enc == "" || enc == "identity" {
		return true
	}
	for _, c := range acceptedCodings(h) {
		if c == enc || c == "*" || (enc == "gzip" && c == "x-gzip") {
			return true
		}
	}
	return false
}

// replayableHeader reports whether a cached response may carry header k
// (canonical): hop-by-hop headers, cookies, and what is computed anew for
// each response are never stored nor replayed.
func replayableHeader(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Set-Cookie", "Content-Length", "Date", "Age", "X-Cache":
		return false
	}
	return true
}

// connectionHeaders are the headers a response's Connection header names:
// hop-by-hop too.
func connectionHeaders(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Connection") {
		for f := range strings.SplitSeq(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	return out
}

// cacheControl reports whether a Cache-Control header forbids a shared
// cache to keep the response.
func cacheControlForbids(h http.Header) bool {
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "private", "no-cache":
				return true
			}
		}
	}
	return false
}

// varyAllowed reports whether every header a response's Vary names is
// part of the key.
func varyAllowed(h http.Header, declared []string) bool {
	for _, line := range h.Values("Vary") {
		for f := range strings.SplitSeq(line, ",") {
			f = http.CanonicalHeaderKey(strings.TrimSpace(f))
			if f == "" || f == "Accept-Encoding" || slices.Contains(declared, f) {
				continue
			}
			return false // "*" too
		}
	}
	return true
}

// etagMatch reports whether an If-None-Match header matches etag, by the
// weak comparison RFC 9110 asks for with GET and HEAD.
func etagMatch(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" || etag == "" {
		return false
	}
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	want := strip(etag)
	for t := range strings.SplitSeq(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strip(t) == want {
			return true
		}
	}
	return false
}
