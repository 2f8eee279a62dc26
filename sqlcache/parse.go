package sqlcache

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A token of SQL text, as far as this package needs to read it.
type tokKind uint8

const (
	tokWord    tokKind = iota // a keyword or unquoted identifier (lower-cased in text)
	tokQuoted                 // a quoted identifier: "x", `x` or [x] (text without quotes)
	tokString                 // a string literal
	tokNumber                 // a number or placeholder-like run ($1, ?1, :name)
	tokPunct                  // one character: ( ) , ; . = and the others
	tokComment                // a comment (text is its body)
)

type token struct {
	kind tokKind
	text string
}

// lex splits sql into tokens. It never fails: an unterminated quote or
// comment runs to the end of the text.
func lex(sql string) []token {
	var out []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			out = append(out, token{tokComment, sql[i+2 : i+j]})
			i += j
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				out = append(out, token{tokComment, sql[i+2:]})
				i = len(sql)
			} else {
				out = append(out, token{tokComment, sql[i+2 : i+2+j]})
				i += j + 4
			}
		case c == '\'':
			j := closeQuote(sql, i, '\'')
			out = append(out, token{tokString, sql[i:j]})
			i = j
		case c == '"' || c == '`':
			j := closeQuote(sql, i, c)
			body := sql[i+1 : j]
			if strings.HasSuffix(body, string(c)) {
				body = body[:len(body)-1]
			}
			out = append(out, token{tokQuoted, strings.ReplaceAll(body, string([]byte{c, c}), string(c))})
			i = j
		case c == '[':
			j := strings.IndexByte(sql[i:], ']')
			if j < 0 {
				j = len(sql) - i - 1
			}
			out = append(out, token{tokQuoted, sql[i+1 : i+j]})
			i += j + 1
		case c == '$' && i+1 < len(sql) && (sql[i+1] == '$' || isIdentStart(rune(sql[i+1]))) && dollarTag(sql[i:]) != "":
			// A PostgreSQL dollar-quoted string: $$...$$ or $tag$...$tag$.
			tag := dollarTag(sql[i:])
			j := strings.Index(sql[i+len(tag):], tag)
			end := len(sql)
			if j >= 0 {
				end = i + len(tag) + j + len(tag)
			}
			out = append(out, token{tokString, sql[i:end]})
			i = end
		case isIdentStart(rune(c)) || c >= utf8.RuneSelf:
			j := i
			for j < len(sql) {
				r, n := utf8.DecodeRuneInString(sql[j:])
				if !isIdentPart(r) {
					break
				}
				j += n
			}
			if j == i { // a rune that is not part of a name
				_, n := utf8.DecodeRuneInString(sql[i:])
				out = append(out, token{tokPunct, sql[i : i+n]})
				i += n
				continue
			}
			out = append(out, token{tokWord, strings.ToLower(sql[i:j])})
			i = j
		case c >= '0' && c <= '9' || c == '$' || c == '?' || c == ':' || c == '@':
			j := i + 1
			for j < len(sql) && (isIdentPart(rune(sql[j])) || sql[j] == '.') {
				j++
			}
			out = append(out, token{tokNumber, sql[i:j]})
			i = j
		default:
			out = append(out, token{tokPunct, sql[i : i+1]})
			i++
		}
	}
	return out
}

// closeQuote returns the index just past the quote that closes the one
// at sql[i], a doubled quote being part of the text.
func closeQuote(sql string, i int, q byte) int {
	j := i + 1
	for j < len(sql) {
		if sql[j] == q {
			if j+1 < len(sql) && sql[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		if sql[j] == '\\' && q == '\'' && j+1 < len(sql) {
			// MySQL's escaped quote; harmless elsewhere, as \' cannot end
			// a standard string and then start a name.
			j += 2
			continue
		}
		j++
	}
	return len(sql)
}

func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		if s[j] == '$' {
			return s[:j+1]
		}
		if !isIdentPart(rune(s[j])) {
			return ""
		}
	}
	return ""
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// annotation is what a "/* redcache: ... */" comment asks for.
type annotation struct {
	found   bool
	ttl     time.Duration
	tables  []string
	nocache bool
}

// annotationPrefix starts a comment addressed to this package.
const annotationPrefix = "redcache"

// parseAnnotation reads the redcache comments of the tokens. The syntax is
// "redcache:" followed by space-separated key=value pairs: ttl=<Go
// duration>, tables=<name>[,<name>...], and the bare word off (never
// cache this query). A comment whose body starts with "redcache" and does
// not follow it is an error, so that a typo never caches (or fails to
// invalidate) something else than what was asked.
func parseAnnotation(toks []token) (annotation, error) {
	var a annotation
	for _, t := range toks {
		if t.kind != tokComment {
			continue
		}
		body := strings.TrimSpace(t.text)
		if len(body) < len(annotationPrefix) || !strings.EqualFold(body[:len(annotationPrefix)], annotationPrefix) {
			continue
		}
		rest := body[len(annotationPrefix):]
		if !strings.HasPrefix(rest, ":") {
			return a, fmt.Errorf("%w: %q: want \"redcache: ttl=30s\"", ErrBadAnnotation, body)
		}
		if a.found {
			return a, fmt.Errorf("%w: more than one redcache comment", ErrBadAnnotation)
		}
		a.found = true
		fields := strings.Fields(rest[1:])
		if len(fields) == 0 {
			return a, fmt.Errorf("%w: %q says nothing", ErrBadAnnotation, body)
		}
		for _, f := range fields {
			if f == "off" {
				a.nocache = true
				continue
			}
			k, v, ok := strings.Cut(f, "=")
			if !ok || v == "" {
				return a, fmt.Errorf("%w: %q: want key=value", ErrBadAnnotation, f)
			}
			switch k {
			case "ttl":
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					return a, fmt.Errorf("%w: ttl %q: want a positive Go duration such as 30s", ErrBadAnnotation, v)
				}
				a.ttl = d
			case "tables":
				for _, name := range strings.Split(v, ",") {
					if name == "" {
						return a, fmt.Errorf("%w: tables %q: an empty name", ErrBadAnnotation, v)
					}
					a.tables = append(a.tables, normalTable(name))
				}
			default:
				return a, fmt.Errorf("%w: unknown key %q (want ttl, tables or off)", ErrBadAnnotation, k)
			}
		}
	}
	if a.nocache && a.ttl > 0 {
		return a, fmt.Errorf("%w: off and ttl together", ErrBadAnnotation)
	}
	return a, nil
}

// normalTable is the name a table is tagged under: the last part of a
// qualified name, lower-cased. Dropping the schema and the case can only
// make a write invalidate more than it must (two schemas' tables of one
// name), never less, whatever the search path.
func normalTable(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Trim(name, "\"`[]")
	return strings.ToLower(name)
}

// normalize returns the text a query's key is built from: its tokens
// without comments, separated by single spaces, so that layout changes do
// not change the key while every literal, name and operator does.
func normalize(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tokComment {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tokQuoted:
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(t.text, `"`, `""`))
			b.WriteByte('"')
		default:
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// statement is what the parser learnt about a piece of SQL (one or more
// statements).
type statement struct {
	write bool // some statement may change data
	// tables are the tables read (for a read) or written (for a write).
	tables []string
	// unknown is set when the tables could not be found: a read that
	// names none, or a write whose target could not be parsed.
	unknown bool
}

// readOnly are the first words of statements that change no table.
var readOnly = map[string]bool{
	"select": true, "values": true, "table": true, "show": true, "explain": true, "describe": true,
	"set": true, "reset": true, "begin": true, "start": true, "commit": true, "end": true,
	"rollback": true, "savepoint": true, "release": true, "pragma": true, "analyze": true,
	"vacuum": true, "listen": true, "unlisten": true, "notify": true, "declare": true,
	"fetch": true, "close": true, "discard": true, "deallocate": true, "prepare": true,
}

// classify parses sql: which statements write, which tables they write
// or read. It reads a superset of what matters: a name taken for a table
// that is none only adds a tag.
func classify(toks []token) statement {
	var st statement
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			st.tables = append(st.tables, name)
		}
	}
	for _, stmt := range splitStatements(toks) {
		first := ""
		for _, t := range stmt {
			if t.kind == tokWord {
				first = t.text
				break
			}
			if t.kind == tokComment || t.kind == tokPunct && t.text == "(" {
				continue
			}
			break
		}
		if first == "" {
			continue
		}
		written, ok := writeTargets(stmt)
		switch {
		case first == "with" || readOnly[first]:
			// A read, unless it holds a write (a CTE's DELETE, EXPLAIN
			// ANALYZE of an UPDATE).
			if len(written) > 0 || !ok {
				st.write = true
			}
		default:
			st.write = true
			if len(written) == 0 {
				ok = ok && changesNoRows[first]
			}
		}
		if !ok {
			st.unknown = true
		}
		for _, w := range written {
			add(w)
		}
		if !st.write {
			for _, r := range readTables(stmt) {
				if r == "" {
					st.unknown = true // a table function: what it reads is unknown
				}
				add(r)
			}
		}
	}
	if st.write {
		// A write's tags are those it writes only.
		st.tables = st.tables[:0]
		clear(seen)
		for _, stmt := range splitStatements(toks) {
			w, _ := writeTargets(stmt)
			for _, name := range w {
				add(name)
			}
		}
	} else if len(st.tables) == 0 {
		st.unknown = true
	}
	return st
}

// changesNoRows are statements that change no table's rows when they
// name none (CREATE INDEX, COMMENT, GRANT...). Others that name no table
// this parser can read (DO, CALL, COPY, REFRESH MATERIALIZED VIEW, a
// vendor's own) are unknown writes.
var changesNoRows = map[string]bool{
	"create": true, "comment": true, "grant": true, "revoke": true, "reindex": true,
	"cluster": true, "lock": true, "checkpoint": true, "attach": true, "detach": true,
}

// splitStatements cuts the tokens at top-level semicolons.
func splitStatements(toks []token) [][]token {
	var out [][]token
	start, depth := 0, 0
	for i, t := range toks {
		if t.kind != tokPunct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth = max(depth-1, 0)
		case ";":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

// code returns the statement's tokens without comments.
func code(stmt []token) []token {
	out := make([]token, 0, len(stmt))
	for _, t := range stmt {
		if t.kind != tokComment {
			out = append(out, t)
		}
	}
	return out
}

// qualifiedName reads a possibly qualified name at toks[i]: it returns its
// tag name and the index after it, or "" when there is no name there.
func qualifiedName(toks []token, i int) (string, int) {
	name := ""
	for i < len(toks) {
		t := toks[i]
		if t.kind != tokWord && t.kind != tokQuoted {
			break
		}
		name = t.text
		i++
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text == "." {
			i++
			continue
		}
		break
	}
	if name == "" {
		return "", i
	}
	return strings.ToLower(name), i
}

func isWord(toks []token, i int, words ...string) bool {
	if i >= len(toks) || toks[i].kind != tokWord {
		return false
	}
	for _, w := range words {
		if toks[i].text == w {
			return true
		}
	}
	return false
}

// writeTargets returns the tables a statement writes, at any depth (a
// PostgreSQL CTE may hold a DELETE), and false when a statement that
// writes names a target this parser cannot read.
func writeTargets(stmt []token) ([]string, bool) {
	toks := code(stmt)
	var out []string
	ok := true
	target := func(i int) {
		for isWord(toks, i, "only", "if", "exists", "table", "ignore") {
			i++
		}
		if isWord(toks, i, "or") { // SQLite's UPDATE OR REPLACE, INSERT OR IGNORE
			i += 2
			if isWord(toks, i, "into") {
				i++
			}
		}
		name, _ := qualifiedName(toks, i)
		if name == "" {
			ok = false
			return
		}
		out = append(out, name)
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokWord {
			continue
		}
		prev := ""
		if i > 0 && toks[i-1].kind == tokWord {
			prev = toks[i-1].text
		}
		switch t.text {
		case "insert", "replace", "upsert":
			if t.text == "replace" && i+1 < len(toks) && toks[i+1].kind == tokPunct {
				continue // the replace() function
			}
			if prev == "or" || prev == "then" { // INSERT OR REPLACE; MERGE's THEN INSERT
				continue
			}
			j := i + 1
			if isWord(toks, j, "or") {
				j += 2
			}
			for isWord(toks, j, "ignore", "low_priority", "delayed", "high_priority") {
				j++
			}
			if isWord(toks, j, "into") {
				j++
			}
			target(j)
		case "update":
			if prev == "for" || prev == "do" || prev == "key" || prev == "no" || prev == "share" {
				continue // FOR UPDATE, ON CONFLICT DO UPDATE, ON DUPLICATE KEY UPDATE, FOR NO KEY UPDATE
			}
			if i+1 < len(toks) && toks[i+1].kind == tokPunct && toks[i+1].text == "(" {
				continue // update() in a trigger condition
			}
			if prev == "on" { // ON UPDATE CASCADE in DDL
				continue
			}
			if prev == "when" && isWord(toks, i+1, "set") { // MERGE ... WHEN MATCHED THEN UPDATE SET
				continue
			}
			if prev == "then" {
				continue
			}
			target(i + 1)
		case "delete":
			if prev == "on" || prev == "then" {
				continue
			}
			if isWord(toks, i+1, "from") {
				target(i + 2)
			} else if prev != "" && prev != "with" {
				continue
			} else {
				target(i + 1) // MySQL's DELETE t FROM ..., or a lone DELETE t
			}
		case "into":
			// SELECT ... INTO: a new table (PostgreSQL, SQL Server) or
			// variables (MySQL): not a read to cache, and its target is
			// not parsed.
			if prev != "insert" && prev != "replace" && prev != "upsert" && prev != "merge" && prev != "ignore" &&
				prev != "low_priority" && prev != "delayed" && prev != "high_priority" &&
				!(i >= 2 && isWord(toks, i-2, "or")) {
				ok = false
			}
		case "merge":
			if isWord(toks, i+1, "into") {
				target(i + 2)
			}
		case "truncate":
			j := i + 1
			for isWord(toks, j, "table", "only") {
				j++
			}
			for {
				name, next := qualifiedName(toks, j)
				if name == "" {
					ok = false
					break
				}
				out = append(out, name)
				if next < len(toks) && toks[next].kind == tokPunct && toks[next].text == "," {
					j = next + 1
					continue
				}
				break
			}
		case "alter", "drop", "create":
			if i != firstWord(toks) {
				continue
			}
			j := i + 1
			for isWord(toks, j, "temporary", "temp", "unlogged", "or", "replace", "global", "local", "virtual") {
				j++
			}
			if !isWord(toks, j, "table") {
				if t.text != "create" && !isWord(toks, j, "index", "sequence", "function", "procedure", "trigger", "type", "extension", "role", "user", "schema", "domain") {
					ok = false // DROP VIEW, ALTER MATERIALIZED VIEW...: rows may change as seen
				}
				continue
			}
			j++
			for isWord(toks, j, "if", "not", "exists", "only") {
				j++
			}
			for {
				name, next := qualifiedName(toks, j)
				if name == "" {
					ok = false
					break
				}
				out = append(out, name)
				if t.text == "drop" && next < len(toks) && toks[next].kind == tokPunct && toks[next].text == "," {
					j = next + 1
					continue
				}
				break
			}
		}
	}
	return out, ok
}

func firstWord(toks []token) int {
	for i, t := range toks {
		if t.kind == tokWord {
			return i
		}
	}
	return -1
}

// readTables returns the names that follow FROM and JOIN, at any depth,
// and each item of a FROM list. It takes CTE names too, which only adds
// tags.
func readTables(stmt []token) []string {
	toks := code(stmt)
	var out []string
	for i := 0; i < len(toks); i++ {
		if !isWord(toks, i, "from", "join") {
			continue
		}
		j := i + 1
		for {
			for isWord(toks, j, "only", "lateral") {
				j++
			}
			if j < len(toks) && toks[j].kind == tokPunct && toks[j].text == "(" {
				// A subquery: its own FROMs are read by the outer loop.
				j = skipParens(toks, j)
			} else {
				name, next := qualifiedName(toks, j)
				if name == "" {
					break
				}
				if next < len(toks) && toks[next].kind == tokPunct && toks[next].text == "(" {
					// A table function: what it reads cannot be known.
					out = append(out, "")
					j = skipParens(toks, next)
				} else {
					out = append(out, name)
					j = next
				}
			}
			// An optional alias, then a comma for the next item.
			if isWord(toks, j, "as") {
				j++
			}
			if j < len(toks) && (toks[j].kind == tokQuoted || toks[j].kind == tokWord && !clauseWords[toks[j].text]) {
				j++
				if j < len(toks) && toks[j].kind == tokPunct && toks[j].text == "(" {
					j = skipParens(toks, j) // column aliases
				}
			}
			if j < len(toks) && toks[j].kind == tokPunct && toks[j].text == "," {
				j++
				continue
			}
			break
		}
	}
	return out
}

// clauseWords end a FROM item: they are never an alias.
var clauseWords = map[string]bool{
	"where": true, "group": true, "order": true, "having": true, "limit": true, "offset": true,
	"join": true, "inner": true, "left": true, "right": true, "full": true, "cross": true,
	"natural": true, "on": true, "using": true, "union": true, "except": true, "intersect": true,
	"window": true, "for": true, "fetch": true, "returning": true, "set": true, "values": true,
	"select": true, "outer": true, "lateral": true, "tablesample": true, "with": true,
}

// skipParens returns the index after the parenthesis that closes toks[i].
func skipParens(toks []token, i int) int {
	depth := 0
	for ; i < len(toks); i++ {
		if toks[i].kind != tokPunct {
			continue
		}
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}
