package sqlcache

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"

	"github.com/redcache/redcache/core"
)

// conn wraps a connection of the base driver. database/sql uses a
// connection from one goroutine at a time; the one exception is a cached
// query's load, which core runs on a goroutine of its own on the
// connection of the call that started it: that call does not return
// until the load is done with the connection (see claim).
type conn struct {
	cn   *Connector
	base driver.Conn
	tx   *txState // the open transaction, nil outside one
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *Connector) wrap(bc driver.Conn) driver.Conn { return &conn{cn: c, base: bc} }

// txState collects the tables a transaction wrote, invalidated at commit.
type txState struct {
	tags []string
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) Close() error { return c.base.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// Ping passes on to the base; without Pinger, database/sql calls nothing.
func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession passes on to the base; without SessionResetter,
// database/sql resets nothing.
func (c *conn) ResetSession(ctx context.Context) error {
	c.tx = nil
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid passes on to the base; without Validator, database/sql takes
// the connection as valid.
func (c *conn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue passes on to the base; without NamedValueChecker,
// driver.ErrSkip makes database/sql convert the value as it would.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.base.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.base.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		// database/sql's own fallback for a driver without ConnBeginTx.
		if opts.Isolation != driver.IsolationLevel(0) {
			return nil, errors.New("sql: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("sql: driver does not support read-only transactions")
		}
		if ctx.Done() != nil {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		tx, err = c.base.Begin() //nolint:staticcheck // the fallback database/sql uses
		if err == nil && ctx.Err() != nil {
			_ = tx.Rollback()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	c.tx = &txState{}
	return &wtx{c: c, base: tx, st: c.tx}, nil
}

// wtx is a transaction: its writes invalidate at Commit, not before and
// not at Rollback.
type wtx struct {
	c    *conn
	base driver.Tx
	st   *txState
}

func (t *wtx) Commit() error {
	err := t.base.Commit()
	if t.c.tx == t.st {
		t.c.tx = nil
	}
	if len(t.st.tags) > 0 {
		// A failed commit may still have committed (the connection broke
		// after): invalidating then costs misses only.
		t.c.cn.invalidateOrReport(context.Background(), t.st.tags)
	}
	return err
}

func (t *wtx) Rollback() error {
	if t.c.tx == t.st {
		t.c.tx = nil
	}
	return t.base.Rollback()
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := c.base.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.base.Prepare(query)
		if err == nil && ctx.Done() != nil && ctx.Err() != nil {
			_ = s.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	ws := &stmt{c: c, base: s, query: query}
	if _, ok := s.(driver.ColumnConverter); ok { //nolint:staticcheck // passed through as the base has it
		return &stmtConverter{ws}, nil
	}
	return ws, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	switch b := c.base.(type) {
	case driver.ExecerContext:
		return c.exec(ctx, query, func(ctx context.Context) (driver.Result, error) {
			return b.ExecContext(ctx, query, args)
		})
	case driver.Execer: //nolint:staticcheck // a base driver that has only the old interface
		return c.exec(ctx, query, func(ctx context.Context) (driver.Result, error) {
			vals, err := namedValueToValue(args)
			if err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return b.Exec(query, vals)
		})
	}
	return nil, driver.ErrSkip // database/sql prepares a stmt instead
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	switch b := c.base.(type) {
	case driver.QueryerContext:
		return c.query(ctx, query, args, func(ctx context.Context) (driver.Rows, error) {
			return b.QueryContext(ctx, query, args)
		})
	case driver.Queryer: //nolint:staticcheck // a base driver that has only the old interface
		return c.query(ctx, query, args, func(ctx context.Context) (driver.Rows, error) {
			vals, err := namedValueToValue(args)
			if err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return b.Query(query, vals)
		})
	}
	return nil, driver.ErrSkip
}

func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		out[i] = nv.Value
	}
	return out, nil
}

// stmt is a prepared statement of a wrapped connection.
type stmt struct {
	c     *conn
	base  driver.Stmt
	query string
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// stmtConverter is a stmt whose base is a driver.ColumnConverter.
type stmtConverter struct{ *stmt }

// ColumnConverter passes on to the base.
func (s *stmtConverter) ColumnConverter(idx int) driver.ValueConverter {
	return s.base.(driver.ColumnConverter).ColumnConverter(idx) //nolint:staticcheck // passed through
}

func (s *stmt) Close() error  { return s.base.Close() }
func (s *stmt) NumInput() int { return s.base.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// CheckNamedValue passes on to the base statement, else to the base
// connection (as database/sql would), else driver.ErrSkip.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.base.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.exec(ctx, s.query, func(ctx context.Context) (driver.Result, error) {
		if e, ok := s.base.(driver.StmtExecContext); ok {
			return e.ExecContext(ctx, args)
		}
		vals, err := namedValueToValue(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return s.base.Exec(vals) //nolint:staticcheck // the fallback database/sql uses
	})
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.query(ctx, s.query, args, func(ctx context.Context) (driver.Rows, error) {
		if q, ok := s.base.(driver.StmtQueryContext); ok {
			return q.QueryContext(ctx, args)
		}
		vals, err := namedValueToValue(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return s.base.Query(vals) //nolint:staticcheck // the fallback database/sql uses
	})
}

// ---------------------------------------------------------------- writes

// exec runs a statement through run and invalidates what it wrote.
func (c *conn) exec(ctx context.Context, text string, run func(context.Context) (driver.Result, error)) (driver.Result, error) {
	toks := lex(text)
	ann, err := parseAnnotation(toks)
	if err != nil {
		return nil, err
	}
	st := classify(toks)
	if st.write && ann.ttl > 0 {
		return nil, fmt.Errorf("%w: a ttl on a statement that writes", ErrBadAnnotation)
	}
	res, err := run(ctx)
	if errors.Is(err, driver.ErrSkip) {
		return res, err
	}
	if tags, ok := c.writeTags(ctx, st, ann); ok {
		// Also after an error: a failed batch may have applied some of
		// its statements, and a needless invalidation costs misses only.
		c.wrote(ctx, tags)
	}
	return res, err
}

// writeTags returns the tags a statement's writes invalidate, and false
// when it writes nothing. The explicit tables (the context's, else the
// annotation's) replace the parsed ones; a write whose tables could not
// be parsed invalidates every cached result (allTag). Every write also
// invalidates the results of reads whose tables were unknown.
func (c *conn) writeTags(ctx context.Context, st statement, ann annotation) ([]string, bool) {
	tables, explicit := ctxTables(ctx)
	if !explicit && ann.tables != nil {
		tables, explicit = ann.tables, true
	}
	if !st.write && !explicit {
		return nil, false
	}
	if !explicit {
		tables = st.tables
	}
	tags := make([]string, 0, len(tables)+2)
	for _, t := range tables {
		tags = append(tags, tableTag(t))
	}
	if st.unknown && !explicit {
		tags = append(tags, allTag)
	}
	return append(tags, unknownTag), true
}

// wrote invalidates tags now, or at commit inside a transaction.
func (c *conn) wrote(ctx context.Context, tags []string) {
	if c.tx != nil {
		c.tx.tags = append(c.tx.tags, tags...)
		return
	}
	c.cn.invalidateOrReport(context.WithoutCancel(ctx), tags)
}

func (cn *Connector) invalidateOrReport(ctx context.Context, tags []string) {
	err := cn.invalidate(ctx, tags)
	if err != nil {
		cn.failedInvalidations.Add(1)
	}
	if err != nil && cn.cfg.onError != nil {
		cn.cfg.onError(ctx, &core.Error{
			Op:   "invalidate",
			Name: cn.cfg.name,
			Err:  fmt.Errorf("%w: tags %v: %w", ErrInvalidation, tags, err),
		})
	}
}

// writeRows are the rows of a query that writes (INSERT ... RETURNING):
// its tables are invalidated when they are closed, once the statement
// is over.
type writeRows struct {
	passRows
	c    *conn
	ctx  context.Context
	tags []string
	done bool
}

func (r *writeRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.c.wrote(r.ctx, r.tags)
	}
	return err
}

// ----------------------------------------------------------------- reads

// query is a cached query: the argument of the memoized function. Its key
// is the normalized text and the typed arguments; the other fields are
// what the load of the first caller needs.
type query struct {
	key  []byte // the normalized text and arguments (AppendKey)
	run  func(context.Context) (driver.Rows, error)
	cl   *claim
	tags []string
}

// AppendKey implements core.KeyAppender.
func (q query) AppendKey(dst []byte) []byte { return append(dst, q.key...) }

// claim is how a call and the load it started share the call's
// connection: the load runs only if it claims the connection before the
// call gave up (state 0 -> 1); the call, when it returns, either takes the
// connection back first (0 -> 2: the load will not run on it) or waits
// until the load is done with it.
type claim struct {
	state   atomic.Int32
	done    chan struct{}
	pending driver.Rows // rows the load could not cache, for the call itself
}

// errAbandoned is the load's error when the call that started it had
// already returned: the waiting callers run the query themselves.
var errAbandoned = errors.New("redcache/sqlcache: the connection of the load was released")

func (c *conn) query(ctx context.Context, text string, args []driver.NamedValue, run func(context.Context) (driver.Rows, error)) (driver.Rows, error) {
	toks := lex(text)
	ann, err := parseAnnotation(toks)
	if err != nil {
		return nil, err
	}
	st := classify(toks)
	if st.write {
		if ann.ttl > 0 {
			return nil, fmt.Errorf("%w: a ttl on a statement that writes", ErrBadAnnotation)
		}
		rows, err := run(ctx)
		if errors.Is(err, driver.ErrSkip) {
			return rows, err
		}
		tags, _ := c.writeTags(ctx, st, ann)
		if err != nil {
			c.wrote(ctx, tags)
			return nil, err
		}
		return &writeRows{passRows: passRows{rows}, c: c, ctx: context.WithoutCancel(ctx), tags: tags}, nil
	}
	ttl := ctxTTL(ctx)
	if ann.ttl > 0 {
		ttl = ann.ttl
	}
	if ann.nocache || ttl <= 0 || c.tx != nil {
		// Inside a transaction the cache is bypassed: a read sees the
		// transaction's own writes, which no other caller may.
		return run(ctx)
	}
	key, ok := c.cn.cfg.appendArgs(appendLen([]byte{'q'}, normalize(toks)), args)
	if !ok {
		return run(ctx)
	}
	q := query{key: key, run: run, cl: &claim{done: make(chan struct{})}, tags: c.readTags(ctx, st, ann)}
	res, err := c.cn.memo.Get(ctx, q, c.cn.readOpts(ttl, q.tags)...)
	if !q.cl.state.CompareAndSwap(0, 2) {
		<-q.cl.done // the load ran on this connection: wait until it is done
	}
	if p := q.cl.pending; p != nil {
		if errors.Is(err, errTooLarge) {
			return p, nil // this call's own rows, read on as they come
		}
		_ = p.Close()
	}
	switch {
	case err == nil:
		return &cachedRows{res: res, cfg: c.cn.cfg}, nil
	case errors.Is(err, errTooLarge), errors.Is(err, errAbandoned),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Not cacheable, the load's connection went away, or the load
		// ended with the context of the caller that started it (which
		// gave up): this call asks the database itself.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return run(ctx)
	}
	return nil, err
}

// readTags are the tags of a cached result: its tables (explicit ones
// replace parsed ones), allTag, and unknownTag when its tables are not
// known.
func (c *conn) readTags(ctx context.Context, st statement, ann annotation) []string {
	tables, explicit := ctxTables(ctx)
	if !explicit && ann.tables != nil {
		tables, explicit = ann.tables, true
	}
	if !explicit {
		tables = st.tables
	}
	tags := make([]string, 0, len(tables)+2)
	for _, t := range tables {
		tags = append(tags, tableTag(t))
	}
	tags = append(tags, allTag)
	if st.unknown && !explicit {
		tags = append(tags, unknownTag)
	}
	return tags
}

// load is the memoized function: it runs the query on the connection of
// the call that started it and reads the whole result.
func (cn *Connector) load(ctx context.Context, q query) (*result, error) {
	if !q.cl.state.CompareAndSwap(0, 1) {
		return nil, errAbandoned
	}
	defer close(q.cl.done)
	rows, err := q.run(ctx)
	if err != nil {
		return nil, err
	}
	res := &result{cols: readColumns(rows)}
	width := len(res.cols)
	size := 0
	for {
		row := make([]driver.Value, width)
		err := rows.Next(row)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		for i, v := range row {
			row[i] = ownValue(v)
			size += valueSize(v)
		}
		res.rows = append(res.rows, row)
		if len(res.rows) > cn.cfg.maxRows || size > cn.cfg.maxBytes {
			q.cl.pending = &replayRows{passRows: passRows{rows}, buf: res.rows}
			return nil, errTooLarge
		}
	}
	if m, ok := rows.(driver.RowsNextResultSet); ok && m.HasNextResultSet() {
		// More result sets: passed through, uncached.
		q.cl.pending = &replayRows{passRows: passRows{rows}, buf: res.rows}
		return nil, errTooLarge
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return res, nil
}

// passRows pass the driver's rows on, with every optional rows
// interface: the base's answer where it has one, database/sql's default
// where it has none.
type passRows struct {
	driver.Rows
}

var (
	_ driver.RowsNextResultSet              = passRows{}
	_ driver.RowsColumnTypeDatabaseTypeName = passRows{}
	_ driver.RowsColumnTypeScanType         = passRows{}
	_ driver.RowsColumnTypeLength           = passRows{}
	_ driver.RowsColumnTypeNullable         = passRows{}
	_ driver.RowsColumnTypePrecisionScale   = passRows{}
)

func (r passRows) HasNextResultSet() bool {
	if m, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return m.HasNextResultSet()
	}
	return false
}

func (r passRows) NextResultSet() error {
	if m, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return m.NextResultSet()
	}
	return io.EOF
}

func (r passRows) ColumnTypeDatabaseTypeName(i int) string {
	if m, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return m.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r passRows) ColumnTypeScanType(i int) reflect.Type {
	if m, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return m.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r passRows) ColumnTypeLength(i int) (int64, bool) {
	if m, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return m.ColumnTypeLength(i)
	}
	return 0, false
}

func (r passRows) ColumnTypeNullable(i int) (bool, bool) {
	if m, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return m.ColumnTypeNullable(i)
	}
	return false, false
}

func (r passRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if m, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return m.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// replayRows are rows a load began to read and could not cache: the rows
// it read, then the rest from the database.
type replayRows struct {
	passRows
	buf [][]driver.Value
}

func (r *replayRows) Next(dest []driver.Value) error {
	if len(r.buf) > 0 {
		copy(dest, r.buf[0])
		r.buf = r.buf[1:]
		return nil
	}
	return r.Rows.Next(dest)
}

func (r *replayRows) NextResultSet() error {
	r.buf = nil
	return r.passRows.NextResultSet()
}
